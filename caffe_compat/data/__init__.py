"""Data sources: LMDB of Datum, IDX / CIFAR-10 readers, the data transformer, converters."""
