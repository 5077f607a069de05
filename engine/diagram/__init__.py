"""Diagrams of flows: the drawing model, Mermaid and Graphviz, coverage and traffic on them."""

from engine.diagram.coverage import COVERAGE_FILE, Coverage
from engine.diagram.graphviz import Format, dot, render, source_digest
from engine.diagram.mermaid import mermaid
from engine.diagram.model import Diagram, Edge, GraphError, GraphvizMissing, Node, diagram
from engine.diagram.traffic import Traffic

__all__ = [
    "COVERAGE_FILE",
    "Coverage",
    "Diagram",
    "Edge",
    "Format",
    "GraphError",
    "GraphvizMissing",
    "Node",
    "Traffic",
    "diagram",
    "dot",
    "mermaid",
    "render",
    "source_digest",
]
