"""Equation-string models, by command-line name (each module defines ``MODEL``)."""

MODELS = {
    "lif": "models.lif",
    "stdp-digits": "models.stdp_digits",
    "hh-poisson": "models.hh_poisson",
    "ring": "models.ring",
    "ring-spiking": "models.ring_spiking",
}
