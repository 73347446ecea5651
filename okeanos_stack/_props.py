"""Prop handling shared by every construct: conflict checks and props merging.

Props follow the aws-solutions-constructs conventions: for each wrapped
resource, either an existing resource (typed as its interface) or override
props for a new one, never both. Override props merge as: the construct's
defaults, then the caller's props, then what the construct requires.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from okeanos_stack.exceptions import OkeanosPropsError

Props = Optional[Any]


class PropsChecker:
    """Collect every problem in one construct's props, then raise them together."""

    def __init__(self, construct: str) -> None:
        self.construct = construct
        self.problems: List[str] = []

    def exclusive(self, existing_name: str, existing: Any, props_name: str, props: Any) -> None:
        """Record a conflict when both an existing resource and props for a new one are set."""
        if existing is not None and props is not None:
            self.problems.append(
                f"{existing_name} and {props_name} are both set; pass an existing resource "
                f"in {existing_name} or props for a new one in {props_name}, not both"
            )

    def only_with_new(self, existing_name: str, existing: Any, prop_name: str, value: Any) -> None:
        """Record a conflict when a prop that shapes a new resource is set with an existing one."""
        if existing is not None and value is not None:
            self.problems.append(
                f"{prop_name} is set, but {existing_name} is also set and {prop_name} "
                f"only applies to a new resource; remove one of them"
            )

    def not_overridden(self, props_name: str, props: Props, keys: Mapping[str, str]) -> None:
        """Record a conflict for each key of ``props`` that the construct sets itself.

        ``keys`` maps each such key to the reason the construct owns it.
        """
        for key in sorted(set(props_to_dict(props)) & set(keys)):
            self.problems.append(f"{props_name}[{key!r}] cannot be overridden: {keys[key]}")

    def add(self, problem: str) -> None:
        """Record a problem described by the caller."""
        self.problems.append(problem)

    def raise_if_any(self) -> None:
        """Raise :class:`OkeanosPropsError` listing every recorded problem."""
        if self.problems:
            raise OkeanosPropsError(self.construct, self.problems)


def props_to_dict(props: Props) -> Dict[str, Any]:
    """Return props as a dict of snake_case keys.

    Accepts a plain mapping or a CDK props struct (``sns.TopicProps(...)``),
    whose set values jsii keeps in ``_values``.
    """
    if props is None:
        return {}
    if isinstance(props, Mapping):
        return dict(props)
    values = getattr(props, "_values", None)
    if isinstance(values, Mapping):
        return dict(values)
    raise TypeError(
        f"props must be a dict or a CDK props object such as sns.TopicProps, "
        f"got {type(props).__name__}"
    )


def merge_props(defaults: Mapping[str, Any], user: Props, required: Mapping[str, Any]) -> Dict[str, Any]:
    """Merge defaults, then the caller's props, then the props the construct requires."""
    merged = dict(defaults)
    merged.update(props_to_dict(user))
    merged.update(required)
    return merged
