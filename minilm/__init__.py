"""all-MiniLM-L6-v2 without a deep-learning framework's model code: the weights, the tokenizer,
batching and pooling, and one forward pass written against a small set of array operations.

Both environments use it: the bot runs the forward pass in TensorFlow (`bot/encoder.py`, Rasa
already loads it), the handoff service in numpy (`minilm.numpy_encoder`, no TensorFlow there).
The same weights and the same steps give the same vectors (within 1e-5, tests/bot/test_encoder.py).
"""
