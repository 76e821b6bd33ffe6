"""Desktop training, int8 conversion and evaluation of the moodbox expression model.

Never imported by the device package: it needs TensorFlow/Keras, which stay off the box.
"""
