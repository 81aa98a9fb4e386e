"""An MCP server for `custom_tool.mas`: the tools `unit-convert` and `constants.lookup`,
served over stdio with the official `mcp` SDK (`pip install 'masdsl[mcp]'`).

    masc run examples/custom_tool.mas -i question="..." --mcp 'python examples/units_server.py'

The same functions can be bound from Python instead:

    registry = masdsl.ToolRegistry()
    registry.register_function("unit-convert", convert)
    registry.register_function("constants.lookup", lookup)
"""

from __future__ import annotations

# Each unit as (dimension, value in the SI unit of that dimension).
UNITS: dict[str, tuple[str, float]] = {
    "m": ("length", 1.0), "km": ("length", 1000.0), "cm": ("length", 0.01),
    "mm": ("length", 0.001), "mi": ("length", 1609.344), "ft": ("length", 0.3048),
    "in": ("length", 0.0254), "kg": ("mass", 1.0), "g": ("mass", 0.001),
    "lb": ("mass", 0.45359237), "s": ("time", 1.0), "min": ("time", 60.0),
    "h": ("time", 3600.0), "day": ("time", 86400.0), "m/s": ("speed", 1.0),
    "km/h": ("speed", 1000.0 / 3600.0), "mph": ("speed", 1609.344 / 3600.0),
}

CONSTANTS: dict[str, float] = {
    "speed_of_light": 299_792_458.0,           # m/s
    "gravitational_constant": 6.674_30e-11,    # m^3 kg^-1 s^-2
    "standard_gravity": 9.806_65,              # m/s^2
    "planck": 6.626_070_15e-34,                # J s
    "boltzmann": 1.380_649e-23,                # J/K
    "avogadro": 6.022_140_76e23,               # 1/mol
    "elementary_charge": 1.602_176_634e-19,    # C
}


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """`value` in `from_unit`, expressed in `to_unit` (same dimension)."""
    try:
        (source_dimension, source), (target_dimension, target) = \
            UNITS[from_unit], UNITS[to_unit]
    except KeyError as missing:
        raise ValueError(f"unknown unit {missing}; known: {', '.join(UNITS)}") from None
    if source_dimension != target_dimension:
        raise ValueError(f"cannot convert {source_dimension} ({from_unit}) to "
                         f"{target_dimension} ({to_unit})")
    return value * source / target


def lookup(name: str) -> float:
    """The SI value of a physical constant."""
    key = name.strip().lower().replace(" ", "_")
    if key not in CONSTANTS:
        raise ValueError(f"unknown constant {name!r}; known: {', '.join(CONSTANTS)}")
    return CONSTANTS[key]


def main() -> None:
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    server = MCPServer("masdsl-units")

    @server.tool(name="unit-convert", description="Convert a quantity between units.")
    def unit_convert(value: float, from_unit: str, to_unit: str) -> float:
        try:
            return convert(value, from_unit, to_unit)
        except ValueError as error:
            raise ToolError(str(error)) from None  # a ToolError's text reaches the client

    @server.tool(name="constants.lookup", description="A physical constant's SI value.")
    def constants_lookup(name: str) -> float:
        try:
            return lookup(name)
        except ValueError as error:
            raise ToolError(str(error)) from None

    server.run("stdio")


if __name__ == "__main__":
    main()
