"""Numbers for people: one SI-prefix convention for every printed figure."""

_PREFIXES = ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "u"),
             (1e-9, "n"), (1e-12, "p"), (1e-15, "f"))


def si(value, unit: str, digits: int = 4) -> str:
    """``value`` with the SI prefix that puts it in [1, 1000): ``si(3.2e-6, "J") == "3.2 uJ"``.

    ``None`` prints as ``-``; values below a femto-unit keep the plain unit.
    """
    if value is None:
        return "-"
    value = float(value)
    if value == 0:
        return f"0 {unit}"
    for factor, prefix in _PREFIXES:
        if abs(value) >= factor * (1 - 0.5 * 10 ** -digits):
            return f"{value / factor:.{digits}g} {prefix}{unit}"
    return f"{value:.3g} {unit}"
