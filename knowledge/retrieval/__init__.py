"""Query side: analyse the question, score with each leg, fuse, and decide what may be said.

`Retriever` serves the live index generation and follows a publish without a restart;
`answering` turns a search result into an answer, a clarification or an honest "not covered",
always with citations; `version_reference` pins a search to a version a question names.
"""

from knowledge.models import KnowledgeBaseUnavailable
from knowledge.retrieval.answering import AnswerKind, PolicyAnswer, answer_message
from knowledge.retrieval.fusion import METHODS, fuse
from knowledge.retrieval.pipeline import SearchResult
from knowledge.retrieval.query_analyzer import Glossary, QueryAnalysis, QueryAnalyzer
from knowledge.retrieval.retriever import Retriever
from knowledge.retrieval.version_reference import requested_versions

__all__ = ["METHODS", "AnswerKind", "Glossary", "KnowledgeBaseUnavailable", "PolicyAnswer",
           "QueryAnalysis", "QueryAnalyzer", "Retriever", "SearchResult", "answer_message",
           "fuse", "requested_versions"]
