"""labsyn: instrument control and characterisation of artificial-synapse devices."""

__version__ = "0.1.0"
