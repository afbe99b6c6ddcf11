"""Equation-string models, by command-line name (each module defines ``MODEL``)."""

MODELS = {
    "lif": "models.lif",
    "stdp-digits": "models.stdp_digits",
    "ring": "models.ring",
}
