"""AutoGen 0.7 tools for hati: let agents explore in branches and merge the best.

Typical use, one tools object per agent so the server attributes every statement::

    from autogen_agentchat.agents import AssistantAgent
    from hati.integrations.autogen import HatiBranchTools

    tools = HatiBranchTools("127.0.0.1", 5439, agent_id="explorer")
    agent = AssistantAgent("explorer", model_client, tools=tools.tools())

Needs the ``hati[autogen]`` extra (autogen-agentchat, autogen-ext, psycopg 3).
"""

from ._format import format_cell, format_diff, format_error, format_status, format_table
from .tools import TOOL_NAMES, HatiBranchTools, MergeStrategy, QueryResult

__all__ = [
    "TOOL_NAMES",
    "HatiBranchTools",
    "MergeStrategy",
    "QueryResult",
    "format_cell",
    "format_diff",
    "format_error",
    "format_status",
    "format_table",
]
