"""prototxt: the text side of Caffe (read, write, upgrade, render, compare)."""
