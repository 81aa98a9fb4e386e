"""Hypothesis strategies for `.mas` source text, reusable by every test suite.

`programs()` draws the text of a random VALID spec: it parses, and it passes the checker
(names are defined before use, every call and binding is well typed, outputs are bound on
every path, `match` covers its enum, loop/graph/fan-out bounds are inside the default
limits, labels of call arguments are distinct). The text is deliberately awkward: random
names, comments between any two tokens, odd whitespace (tabs, CRLF, blank lines), trailing
commas, numbers spelt in several ways and strings full of quotes, backslashes and newlines.
The literal encoder here is independent of the formatter's, so round-trip tests do not
check the formatter against itself.

`mutated_sources()` damages a valid spec (deleted, inserted and swapped characters, random
bytes) for robustness tests: whatever comes out, the front end may only raise `MasError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

from masdsl.checker.context import suggest
from masdsl.patterns import BUILTINS

Draw = st.DrawFn

PRIMITIVES = ("text", "number", "bool")
SEPARATORS = (" ", " ", " ", "  ", "\n", "\n  ", "\t", "\n\n", " \r\n", "\n\t\t ")
STRING_ALPHABET = st.sampled_from([*list('ab xyz"\\\n\t#{}[]é∑🙂\''), '"""', "\\n", '""'])

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
NAME_STEMS = st.builds(lambda first, rest: first + rest, st.sampled_from(_LETTERS),
                       st.text(alphabet=_LETTERS + "0123456789", max_size=5))

comment_texts = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\n\r\x00"),
    max_size=20).map(lambda body: "#" + body)

TEST_RESULT_FIELDS = [("passed", "bool"), ("passed_count", "number"), ("total", "number"),
                      ("report", "text")]
"""The record `run_tests(...)` gives; a name bound to one is in scope as `run_tests`."""

string_values = st.lists(STRING_ALPHABET | st.characters(blacklist_categories=["Cs"],
                                                        blacklist_characters="\x00"),
                         max_size=25).map("".join)


def encode_string(value: str, triple: bool, escape_tabs: bool) -> str:
    """A STRING literal for `value`. Triple quotes are required when it has a newline; every
    quote is escaped (valid in both forms), backslashes always."""
    body = value.replace("\\", "\\\\").replace('"', '\\"')
    if escape_tabs:
        body = body.replace("\t", "\\t")
    if triple or "\n" in value:
        return '"""' + body + '"""'
    return '"' + body + '"'


@dataclass
class _Spec:
    """The state of one spec being drawn: tokens so far and what is in scope."""

    draw: Draw
    tokens: list[str] = field(default_factory=list)
    counter: int = 0
    enums: dict[str, list[str]] = field(default_factory=dict)
    records: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # name -> fields
    agents: dict[str, str] = field(default_factory=dict)  # agent -> output type name
    declared_tools: list[str] = field(default_factory=list)  # `tool` declarations
    unlisted_tools: set[str] = field(default_factory=set)    # declared, no agent lists yet
    list_lengths: dict[str, int] = field(default_factory=dict)  # list name -> static length

    # ---- tokens and names ---------------------------------------------------------------

    def emit(self, *tokens: str) -> None:
        self.tokens.extend(tokens)

    def fresh(self) -> str:
        """A name that is never a keyword or reserved word (they never end in `_<digits>`)."""
        self.counter += 1
        stem: str = self.draw(NAME_STEMS)
        return f"{stem}_{self.counter}"

    def coin(self) -> bool:
        flipped: bool = self.draw(st.booleans())
        return flipped

    def comma_list(self, items: list[list[str]]) -> None:
        for index, item in enumerate(items):
            if index:
                self.emit(",")
            self.emit(*item)
        if items and self.coin():
            self.emit(",")

    def number(self, value: int | float) -> str:
        if isinstance(value, int):
            spellings = [str(value), f"0{value}"] if value >= 0 else [str(value)]
            return self.draw(st.sampled_from(spellings))
        return self.draw(st.sampled_from([repr(value), f"{value:.3f}", f"{value * 10:g}e-1"]))

    def string(self) -> str:
        value: str = self.draw(string_values)
        return encode_string(value, self.coin(), self.coin())

    # ---- declarations -------------------------------------------------------------------

    def agents_of(self, type_name: str) -> list[str]:
        return [agent for agent, output in self.agents.items() if output == type_name]

    def agent(self, output: str) -> None:
        name = self.fresh()
        self.agents[name] = output
        self.emit("agent", name)
        if output != "text" or self.coin():
            self.emit("->", output)
        self.emit("{")
        fields: list[list[str]] = [["role", self.string()]]
        optional = {
            "temperature": lambda: [self.number(self.draw(st.sampled_from([0, 0.5, 1.25, 2])))],
            "top_p": lambda: [self.number(self.draw(st.sampled_from([0.9, 1, 0.25])))],
            "max_tokens": lambda: [self.number(self.draw(st.integers(1, 8192)))],
            "retries": lambda: [self.number(self.draw(st.integers(0, 5)))],
            "model": lambda: [self.draw(st.sampled_from(["executor", "designer"]))],
            "max_tool_turns": lambda: [self.number(self.draw(st.integers(0, 16)))],
            "tools": lambda: self.tools(),
            "default": lambda: self.constant(output),
            "memory": lambda: [self.number(self.draw(st.integers(1, 16)))],
        }
        if output in self.records:
            del optional["default"]  # a record has no constant
        keys = self.draw(st.lists(st.sampled_from(sorted(optional)), unique=True))
        if self.unlisted_tools and "tools" not in keys:
            keys.append("tools")  # every declared tool is listed by some agent (no MAS124)
        for key in keys:
            fields.append([key, *optional[key]()])
        for item in self.draw(st.permutations(fields)):
            self.emit(*item)
        self.emit("}")

    def template(self, output: str) -> None:
        """An agent template and one or two instances of it (ordinary agents of `output`)."""
        name, params = self.fresh(), [self.fresh() for _ in range(self.draw(st.integers(1, 2)))]
        self.emit("agent", name, "(")
        self.comma_list([[param] for param in params])
        self.emit(")", "->", output, "{", "role",
                  '"' + " and ".join("{" + param + "}" for param in params) + ' {{x}}"')
        if self.coin():
            self.emit("temperature", self.number(0.5))
        self.emit("}")
        for _ in range(self.draw(st.integers(1, 2))):
            instance = self.fresh()
            self.agents[instance] = output
            self.emit("agent", instance, "=", name, "(")
            self.comma_list([[param, ":", self.string()]
                             for param in self.draw(st.permutations(params))])
            self.emit(")")
            if self.coin():
                self.emit("{")
                if self.coin():
                    self.emit("memory", self.number(self.draw(st.integers(1, 3))))
                self.emit("}")

    def constant(self, type_name: str) -> list[str]:
        """A constant of `type_name` (an agent's `default`)."""
        if type_name.startswith("list["):
            element = type_name[len("list["):-1]
            items = [self.constant(element) for _ in range(self.draw(st.integers(0, 2)))]
            return ["[", *[token for item in items for token in [*item, ","]][:-1], "]"]
        if type_name == "text":
            return [self.string()]
        if type_name == "number":
            return [self.number(self.draw(st.integers(-3, 3) | st.sampled_from([0.5, 2.0])))]
        if type_name == "bool":
            return [self.draw(st.sampled_from(["true", "false"]))]
        return [self.draw(st.sampled_from(self.enums[type_name]))]

    def tools(self) -> list[str]:
        chosen = self.draw(st.lists(st.sampled_from(["python", "calculator",
                                                     *self.declared_tools]), unique=True))
        chosen += sorted(self.unlisted_tools - set(chosen))
        self.unlisted_tools -= set(chosen)
        saved, self.tokens = self.tokens, []
        self.emit("[")
        self.comma_list([[tool] for tool in chosen])
        self.emit("]")
        tokens, self.tokens = self.tokens, saved
        return tokens

    def tool_name(self) -> str:
        """A fresh tool name in MCP's style: `-` and `.` may join its parts."""
        first, second = self.fresh(), self.fresh()
        return self.draw(st.sampled_from([first, f"{first}-{second}", f"{first}.{second}",
                                          f"{first}.{second}-x"]))

    def tool_declaration(self) -> list[str]:
        """`tool name(p: T, ...) -> R { description "..." }` with any declarable types."""
        name = self.tool_name()
        self.declared_tools.append(name)
        self.unlisted_tools.add(name)
        types = [*PRIMITIVES, "code", *self.enums, *self.records, "list[text]",
                 "list[number]"]
        saved, self.tokens = self.tokens, []
        self.emit("tool", name, "(")
        self.comma_list([[self.fresh(), ":", self.draw(st.sampled_from(types))]
                         for _ in range(self.draw(st.integers(0, 3)))])
        self.emit(")")
        if self.coin():
            self.emit("->", self.draw(st.sampled_from(types)))
        self.emit("{", "description", self.string(), "}")
        tokens, self.tokens = self.tokens, saved
        return tokens

    # ---- expressions --------------------------------------------------------------------

    def data_args(self, scope: dict[str, str], depth: int,
                  callee: str) -> list[list[str]]:
        """Inputs for a call: distinct refs and, for an agent or a builtin that takes
        labelled inputs, labelled literals and nested labelled calls (a builtin's label is
        never close to one of its parameters)."""
        args: list[list[str]] = []
        if scope:
            refs = self.draw(st.lists(st.sampled_from(sorted(scope)), unique=True, max_size=3))
            args.extend([ref] for ref in refs)
        builtin = BUILTINS.get(callee)
        labelled = builtin is None or builtin.labelled_inputs
        for _ in range(self.draw(st.integers(0, 2)) if labelled else 0):
            label = self.fresh()
            if builtin is not None and suggest(label, [p.name for p in builtin.params]):
                continue
            choice = self.draw(st.sampled_from(["string", "number", "bool", "call"]))
            if choice == "call" and depth < 2:
                args.append([label, ":", *self.call(self.draw(st.sampled_from(PRIMITIVES)),
                                                    scope, depth + 1)])
            elif choice == "number":
                args.append([label, ":", self.number(self.draw(st.integers(-5, 99)))])
            elif choice == "bool":
                args.append([label, ":", self.draw(st.sampled_from(["true", "false"]))])
            else:
                args.append([label, ":", self.string()])
        return self.draw(st.permutations(args))

    def call_tokens(self, callee: str, leading: list[list[str]], scope: dict[str, str],
                    depth: int) -> list[str]:
        saved, self.tokens = self.tokens, []
        self.emit(callee, "(")
        self.comma_list([*leading, *self.data_args(scope, depth, callee)])
        self.emit(")")
        tokens, self.tokens = self.tokens, saved
        return tokens

    def call(self, type_name: str, scope: dict[str, str], depth: int) -> list[str]:
        """An expression of type `type_name` that makes at least one agent call."""
        agents = self.agents_of(type_name)
        pattern = self.draw(st.sampled_from(
            ["agent", "agent", "self_consistency", "weighted", "consensus", "reflect",
             "debate", "ensemble_list"]))
        agent = self.draw(st.sampled_from(agents))
        if pattern == "self_consistency":
            n = self.draw(st.integers(1, 5))
            inner = self.call_tokens("ensemble", [[agent], ["n", ":", self.number(n)]], scope,
                                     depth)
            tiebreak = [["tiebreak", ":", agent]] if self.coin() else []
            if tiebreak and self.coin():
                tiebreak.append(["show", ":", self.draw(st.sampled_from(["replies",
                                                                          "answers"]))])
            return self.call_tokens("vote", [inner, ["strategy", ":", "majority"], *tiebreak],
                                    {}, depth)
        if pattern == "weighted":
            n = self.draw(st.integers(1, 4))
            inner = self.call_tokens("ensemble", [[agent], ["n", ":", str(n)]], scope, depth)
            weights = [str(self.draw(st.integers(0, 3))) for _ in range(n)]
            return self.call_tokens("vote", [inner, ["strategy", ":", "weighted"],
                                             ["weights", ":", "[", weights[0],
                                              *self._rest(weights), "]"]], {}, depth)
        if pattern == "consensus":
            peers = self.draw(st.lists(st.sampled_from(agents), min_size=1, max_size=3))
            inner = self.call_tokens("ensemble", [["[", peers[0], *self._rest(peers), "]"]],
                                     scope, depth)
            show = [["show", ":", "replies"]] if self.coin() else []
            return self.call_tokens("vote", [inner, ["strategy", ":", "consensus"],
                                             ["judge", ":", agent], *show], scope, depth)
        if pattern == "reflect":
            critics = [name for name in self.agents
                       if self.agents[name] in self.enums or self.agents[name] == "bool"]
            critic = self.draw(st.sampled_from(critics))
            alike = [name for name in critics if self.agents[name] == self.agents[critic]]
            chosen = self.draw(st.lists(st.sampled_from(alike), min_size=1, max_size=3))
            named = ["[", chosen[0], *self._rest(chosen), "]"] if self.coin() else [critic]
            leading = [[agent], ["critic", ":", *named],
                       ["rounds", ":", self.number(self.draw(st.integers(1, 4)))]]
            output = self.agents[critic]
            if self.coin():
                member = (self.draw(st.sampled_from(self.enums[output])) if output in self.enums
                          else self.draw(st.sampled_from(["true", "false"])))
                leading.append(["stop", ":", member])
            if self.coin():
                leading.append(["history", ":", self.draw(st.sampled_from(["latest", "all"]))])
            return self.call_tokens("reflect", leading, scope, depth)
        if pattern == "debate":
            debaters = self.draw(st.lists(st.sampled_from(sorted(self.agents)), min_size=2,
                                          max_size=3))
            rounds = self.number(self.draw(st.integers(1, 3)))
            return self.call_tokens("debate", [["[", debaters[0], *self._rest(debaters), "]"],
                                               ["judge", ":", agent], ["rounds", ":", rounds]],
                                    scope, depth)
        if pattern == "ensemble_list":
            return self.call_tokens("vote", [self.call_tokens(
                "ensemble", [["[", agent, *self._rest([agent, *agents]), "]"]], scope, depth)],
                {}, depth)
        return self.call_tokens(agent, [], scope, depth)

    @staticmethod
    def _rest(names: list[str]) -> list[str]:
        tokens: list[str] = []
        for name in names[1:]:
            tokens.extend([",", name])
        return tokens

    def fields_of(self, type_name: str, scope: dict[str, str]) -> list[list[str]]:
        """`x.f` for every bound record `x` with a field `f` of type `type_name`."""
        records = {**self.records, "run_tests": TEST_RESULT_FIELDS}
        return [[name, ".", field_name] for name, bound in sorted(scope.items())
                if bound in records
                for field_name, field_type in records[bound] if field_type == type_name]

    def picks(self, type_name: str, scope: dict[str, str]) -> list[list[str]]:
        """Items of bound lists of `type_name` (`xs[i]` in range, `head(xs)`), and for a
        number their lengths (`len(xs)`)."""
        found: list[list[str]] = []
        for name, bound in sorted(scope.items()):
            length = self.list_lengths.get(name, 0)
            if bound == f"list[{type_name}]" and length:
                position = self.draw(st.integers(-length, length - 1))
                found += [[name, "[", str(position), "]"], ["head", "(", name, ")"]]
            if type_name == "number" and bound.startswith("list["):
                found.append(["len", "(", name, ")"])
        return found

    def list_statement(self, scope: dict[str, str], depth: int) -> None:
        """A list bound to a new name, its static length known: an ensemble (of an agent or
        of a whole flow), a map over a literal list or a bound list, or the rest of one."""
        element = self.draw(st.sampled_from(["text", "number", "bool", *sorted(self.enums)]))
        agent = self.draw(st.sampled_from(self.agents_of(element)))
        lists = sorted(name for name in scope if name in self.list_lengths)
        shape = self.draw(st.sampled_from(["ensemble", "map", "map_bound", "flow", "rest"]))
        name = self.fresh()
        if shape == "map_bound" and lists:
            source = self.draw(st.sampled_from(lists))
            length = self.list_lengths[source]
            tokens = self.call_tokens("map", [[agent], [source]], scope, depth)
        elif shape in ("map", "map_bound"):
            length = self.draw(st.integers(1, 3))
            items = [self.string() for _ in range(length)]
            leading = [[agent], ["[", items[0], *self._rest(items), "]"]]
            if self.coin():
                leading.append(["max", ":", self.number(self.draw(st.integers(length, 4)))])
            tokens = self.call_tokens("map", leading, scope, depth)
        elif shape == "flow" and depth < 2:
            length = self.draw(st.integers(1, 3))
            tokens = ["ensemble", "(", *self.call(element, scope, depth + 1), ",", "n", ":",
                      self.number(length), ")"]
        elif shape == "rest" and lists:
            source = self.draw(st.sampled_from(lists))
            length = max(0, self.list_lengths[source] - 1)
            element = scope[source][len("list["):-1]
            tokens = ["rest", "(", source, ")"]
        else:
            length = self.draw(st.integers(1, 3))
            tokens = self.call_tokens("ensemble", [[agent], ["n", ":", self.number(length)]],
                                      scope, depth)
        self.emit(name, "=", *tokens)
        scope[name] = f"list[{element}]"
        self.list_lengths[name] = length

    def tests_statement(self, scope: dict[str, str], depth: int) -> None:
        """`r = run_tests(program, [tests])`: a record to read and branch on."""
        name = self.fresh()
        tests = [self.string() for _ in range(self.draw(st.integers(1, 2)))]
        self.emit(name, "=", "run_tests", "(", *self.value("text", scope, depth + 1), ",",
                  "[", tests[0], *self._rest(tests), "]", ")")
        scope[name] = "run_tests"

    def value(self, type_name: str, scope: dict[str, str], depth: int) -> list[str]:
        """Any expression of type `type_name`: a call, a bound value, a record's field or a
        literal."""
        same = sorted(name for name, bound in scope.items() if bound == type_name)
        choice = self.draw(st.sampled_from(["call", "call", "ref", "literal", "field", "reply",
                                            "pick"]))
        if choice == "reply" and type_name == "text" and depth < 3:  # a full reply
            shown = self.draw(st.sampled_from(PRIMITIVES))
            return ["reply", "(", *self.value(shown, scope, depth + 1), ")"]
        if choice == "ref" and same:
            return [self.draw(st.sampled_from(same))]
        fields = self.fields_of(type_name, scope)
        if choice == "field" and fields:
            return self.draw(st.sampled_from(fields))
        picks = self.picks(type_name, scope)
        if choice == "pick" and picks:
            return self.draw(st.sampled_from(picks))
        if choice == "literal" and type_name in PRIMITIVES:
            if type_name == "text" and depth < 3 and self.coin():  # text from a template
                key, shown = self.fresh(), self.draw(st.sampled_from(PRIMITIVES))
                return ["format", "(", '"about {' + key + '} {{x}}"', ",", key, ":",
                        *self.value(shown, scope, depth + 1), ")"]
            if type_name == "text":
                return [self.string()]
            if type_name == "number":
                return [self.number(self.draw(st.integers(-9, 9) | st.sampled_from([0.5, 2.0])))]
            return [self.draw(st.sampled_from(["true", "false"]))]
        return self.call(type_name, scope, depth)

    # ---- conditions and statements ------------------------------------------------------

    def condition(self, subject: str, type_name: str,
                  scope: dict[str, str] | None = None) -> list[str]:
        """A condition on `subject`; given `scope`, sometimes combined by `and`/`or` (and
        `not`, parentheses) with a comparison or list test over other values in scope."""
        if type_name == "bool":
            atom = self.draw(st.sampled_from([[subject], ["not", subject],
                                              [subject, "==", "true"], [subject, "!=", "false"]]))
        else:
            member = self.draw(st.sampled_from(self.enums[type_name]))
            atom = self.draw(st.sampled_from([[subject, "==", member], [subject, "!=", member],
                                              [member, "==", subject]]))
        if scope is None or not self.coin():
            return atom
        other = self.computed_condition(scope)
        joiner = self.draw(st.sampled_from(["and", "or"]))
        shape = self.draw(st.integers(0, 3))
        if shape == 3:
            return other
        if shape == 0:
            return [*atom, joiner, *other]
        if shape == 1:
            return ["not", "(", *atom, joiner, *other, ")"]
        return ["(", *atom, ")", joiner, "(", *other, ")"]

    def computed_condition(self, scope: dict[str, str]) -> list[str]:
        """A condition that needs a `condition` node: comparisons and list tests."""
        def named(type_name: str) -> list[str]:
            return sorted(name for name, bound in scope.items() if bound == type_name)

        options: list[list[str]] = [["true"], [self.number(1), "<", self.number(2)]]
        for number in named("number")[:2]:
            options.append([number, self.draw(st.sampled_from(["<", "<=", ">", ">=", "==",
                                                                "!="])),
                            self.number(self.draw(st.integers(-3, 3)))])
        for text in named("text")[:2]:
            options.append([text, self.draw(st.sampled_from(["==", "!="])), self.string()])
        for flag in named("bool")[:2]:
            options.append(["not", flag])
        for access in self.fields_of("bool", scope)[:2]:
            options.append(["not", *access])
        for access in self.fields_of("number", scope)[:2]:
            options.append([*access, ">=", self.number(0)])
        lists = [[["all_equal", "(", items, ")"], ["not", "empty", "(", items, ")"],
                  ["len", "(", items, ")", ">", self.number(1)]]
                 for items in named("list[number]")[:2]]
        if lists and self.coin():
            return self.draw(st.sampled_from([option for group in lists for option in group]))
        for enum in self.enums:
            values = named(enum)
            if len(values) >= 2:
                options.append([values[0], self.draw(st.sampled_from(["==", "!="])), values[1]])
        return self.draw(st.sampled_from(options))

    def testable(self) -> str:
        return self.draw(st.sampled_from(["bool", *sorted(self.enums)]))

    def subject(self, scope: dict[str, str], depth: int, enum_only: bool = False) -> str:
        """A bound bool/enum value to branch on, bound by a new statement when needed."""
        kinds = sorted(self.enums) if enum_only else ["bool", *sorted(self.enums)]
        candidates = sorted(name for name, bound in scope.items() if bound in kinds)
        if candidates and self.coin():
            return self.draw(st.sampled_from(candidates))
        name = self.fresh()
        type_name = self.draw(st.sampled_from(kinds))
        self.emit(name, "=", *self.call(type_name, scope, depth))
        scope[name] = type_name
        return name

    def block(self, scope: dict[str, str], depth: int, budget: int) -> None:
        for _ in range(self.draw(st.integers(0, budget))):
            self.statement(scope, depth)

    def statement(self, scope: dict[str, str], depth: int) -> None:
        kinds = ["assign", "assign", "assign", "list", "tests"]
        if depth < 2:
            kinds += ["if", "match", "loop", "graph"] if self.enums else ["if", "loop", "graph"]
        kind = self.draw(st.sampled_from(kinds))
        if kind == "assign":
            name = self.fresh()
            type_name = self.draw(st.sampled_from(["text", "number", "bool", *self.enums,
                                                   *self.records]))
            self.emit(name, "=", *self.value(type_name, scope, depth))
            scope[name] = type_name
        elif kind == "list":
            self.list_statement(scope, depth)
        elif kind == "tests":
            self.tests_statement(scope, depth)
        elif kind == "if":
            self.if_statement(scope, depth)
        elif kind == "match":
            self.match_statement(scope, depth)
        elif kind == "loop":
            self.loop_statement(scope, depth)
        else:
            self.graph_statement(scope, depth)

    def branch(self, scope: dict[str, str], depth: int, result: str, type_name: str) -> None:
        """`{ ...; result = value }`: every branch binds `result`, so it is bound after."""
        inner = dict(scope)
        self.emit("{")
        self.block(inner, depth + 1, 2)
        self.emit(result, "=", *self.value(type_name, inner, depth + 1))
        self.emit("}")

    def if_statement(self, scope: dict[str, str], depth: int) -> None:
        subject = self.subject(scope, depth)
        if self.coin():  # a list for all_equal/len/empty to test
            items = self.fresh()
            self.emit(items, "=", "[", *self.value("number", scope, depth), ",",
                      *self.value("number", scope, depth), "]")
            scope[items] = "list[number]"
        result, type_name = self.fresh(), self.draw(st.sampled_from(PRIMITIVES))
        self.emit("if", *self.condition(subject, scope[subject], scope))
        self.branch(scope, depth, result, type_name)
        self.emit("else")
        self.branch(scope, depth, result, type_name)
        scope[result] = type_name

    def match_statement(self, scope: dict[str, str], depth: int) -> None:
        subject = self.subject(scope, depth, enum_only=True)
        members = list(self.draw(st.permutations(self.enums[scope[subject]])))
        handled = self.draw(st.integers(1, len(members)))
        result, type_name = self.fresh(), self.draw(st.sampled_from(PRIMITIVES))
        self.emit("match", subject, "{")
        position = 0
        while position < handled:
            size = self.draw(st.integers(1, handled - position))
            self.emit("case")
            self.comma_list([[member] for member in members[position:position + size]])
            self.branch(scope, depth + 1, result, type_name)
            position += size
        if handled < len(members) or self.coin():
            self.emit("else")
            self.branch(scope, depth + 1, result, type_name)
        self.emit("}")
        scope[result] = type_name

    def loop_statement(self, scope: dict[str, str], depth: int) -> None:
        self.emit("loop", "max", self.number(self.draw(st.integers(1, 16))))
        inner = dict(scope)
        body_start = len(self.tokens)
        self.emit("{")
        self.block(inner, depth + 1, 2)
        if self.coin():  # a history that grows once per iteration
            history, element = self.fresh(), self.draw(st.sampled_from(["text", "number"]))
            self.emit(history, "=", "append", "(", history, ",",
                      *self.value(element, inner, depth + 1), ")")
            inner[history] = f"list[{element}]"
        verdict, type_name = self.fresh(), self.testable()
        self.emit(verdict, "=", *self.call(type_name, inner, depth + 1))
        inner[verdict] = type_name
        self.emit("}")
        if self.coin():  # `until` goes between the header and the body
            self.tokens[body_start:body_start] = ["until",
                                                  *self.condition(verdict, type_name, inner)]
        scope.update(inner)
        self.rounds(scope, verdict)

    def rounds(self, scope: dict[str, str], name: str) -> None:
        """Sometimes `xs = rounds(name)` after the loop or graph that bound `name`."""
        if self.coin():
            every = self.fresh()
            self.emit(every, "=", "rounds", "(", name, ")")
            scope[every] = f"list[{scope[name]}]"

    def graph_statement(self, scope: dict[str, str], depth: int) -> None:
        count = self.draw(st.integers(1, 4))
        self.emit("graph", "max_steps", self.number(self.draw(st.integers(1, 64))), "{")
        nodes = [self.fresh() for _ in range(count)]
        types = [self.draw(st.sampled_from(["text", "number", "bool", *self.enums]))
                 for _ in nodes]
        items: list[list[str]] = [["start", nodes[0]]]
        inner = dict(scope)
        for node, type_name in zip(nodes, types, strict=True):
            saved, self.tokens = self.tokens, []
            self.emit("node", node, "=", *self.call(type_name, inner, depth + 1))
            items.append(self.tokens)
            self.tokens = saved
            inner[node] = type_name
        for index, node in enumerate(nodes):
            if types[index] in ("bool", *self.enums) and self.coin():
                back = self.draw(st.sampled_from(nodes[: index + 1]))
                items.append(["edge", node, "->", back, "when",
                              *self.condition(node, types[index], inner)])
            following = nodes[index + 1] if index + 1 < count else "end"
            items.append(["edge", node, "->", following])
        for item in items:
            self.emit(*item)
        self.emit("}")
        scope.update(inner)
        self.rounds(scope, self.draw(st.sampled_from(nodes)))

    # ---- the whole spec -----------------------------------------------------------------

    def build(self) -> str:
        self.emit("mas", self.fresh(), "{")
        declarations: list[list[str]] = []
        scope: dict[str, str] = {}
        for _ in range(self.draw(st.integers(1, 3))):
            name, type_name = self.fresh(), self.draw(st.sampled_from(["text", "number"]))
            declarations.append(["input", name, ":", type_name])
            scope[name] = type_name
        for _ in range(self.draw(st.integers(0, 2))):
            name = self.fresh()
            self.enums[name] = [self.fresh() for _ in range(self.draw(st.integers(1, 4)))]
            saved, self.tokens = self.tokens, []
            self.emit("type", name, "=", "enum", "{")
            self.comma_list([[member] for member in self.enums[name]])
            self.emit("}")
            declarations.append(self.tokens)
            self.tokens = saved
        for _ in range(self.draw(st.integers(0, 1))):
            name = self.fresh()
            field_names = [self.fresh() for _ in range(self.draw(st.integers(1, 3)))]
            self.records[name] = [(field_name, self.draw(st.sampled_from(
                ["text", "number", "bool", *self.enums]))) for field_name in field_names]
            saved, self.tokens = self.tokens, []
            self.emit("type", name, "=", "{")
            self.comma_list([[field_name, ":", field_type]
                             for field_name, field_type in self.records[name]])
            self.emit("}")
            declarations.append(self.tokens)
            self.tokens = saved
        outputs = [(self.fresh(), self.draw(st.sampled_from(["text", "number", "bool",
                                                              *self.enums])))
                   for _ in range(self.draw(st.integers(1, 2)))]
        declarations.extend(["output", name, ":", type_name] for name, type_name in outputs)
        declarations.extend(self.tool_declaration()
                            for _ in range(self.draw(st.integers(0, 2))))
        for declaration in self.draw(st.permutations(declarations)):
            self.emit(*declaration)
        # at least one agent per type (and a bool critic for reflect), plus a few extra
        needed = ["text", "number", "bool", *self.enums, *self.records]
        extra = self.draw(st.lists(st.sampled_from(needed), max_size=3))
        for output in [*needed, *extra]:
            self.agent(output)
        if self.coin():
            self.template(self.draw(st.sampled_from(needed)))
        self.emit("flow", "{")
        self.block(scope, 0, 4)
        for name, type_name in outputs:
            self.emit(name, "=", *self.value(type_name, scope, 0))
        self.emit("}", "}")
        return self.render()

    def render(self) -> str:
        """Join the tokens with random whitespace and comments."""
        parts = [self.draw(st.sampled_from(["", "# leading\n", "\n"]))]
        for index, token in enumerate(self.tokens):
            if index:
                if self.draw(st.integers(0, 9)) == 0:
                    parts.append(" " + self.draw(comment_texts) + "\n")
                else:
                    parts.append(self.draw(st.sampled_from(SEPARATORS)))
            parts.append(token)
        parts.append(self.draw(st.sampled_from(["", "\n", "  # trailing\n"])))
        return "".join(parts)


@st.composite
def programs(draw: Draw) -> str:
    """The source text of a random valid spec (it parses and passes the checker)."""
    return _Spec(draw).build()


@st.composite
def mutated_sources(draw: Draw) -> str | bytes:
    """A valid spec damaged by a few random edits; sometimes returned as raw bytes with
    random bytes spliced in (possibly not UTF-8)."""
    text: str = draw(programs())
    for _ in range(draw(st.integers(1, 4))):
        if not text:
            break
        position = draw(st.integers(0, len(text) - 1))
        edit = draw(st.sampled_from(["delete", "insert", "swap", "duplicate"]))
        if edit == "delete":
            size = draw(st.integers(1, 5))
            text = text[:position] + text[position + size:]
        elif edit == "insert":
            piece = draw(st.sampled_from([*list('{}[]()"#:,=->\n\\'), '"""', "agent", "flow"])
                         | st.text(max_size=3))
            text = text[:position] + piece + text[position:]
        elif edit == "swap" and position + 1 < len(text):
            text = (text[:position] + text[position + 1] + text[position]
                    + text[position + 2:])
        else:
            size = draw(st.integers(1, 20))
            text = text[:position] + text[position:position + size] + text[position:]
    if draw(st.integers(0, 3)) == 0:
        data = text.encode("utf-8", errors="surrogatepass")
        position = draw(st.integers(0, len(data)))
        return data[:position] + draw(st.binary(min_size=1, max_size=4)) + data[position:]
    return text
