"""certify: a proof, from a compiled model's weights, that it computes what the RASP evaluator computes."""
