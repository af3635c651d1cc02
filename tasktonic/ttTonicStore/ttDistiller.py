"""``TaskTonic.ttTonicStore.ttDistiller``: the distiller (re-exported)."""
from ..distiller import DistillerStep, check_contract, ttDistiller, ttDistillerFormula

__all__ = ["ttDistiller", "ttDistillerFormula", "DistillerStep", "check_contract"]
