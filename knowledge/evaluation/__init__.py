"""Measuring retrieval: the evaluation question sets and `retrieval_eval.Evaluator`.

Only the question-set readers are exported here: the Rasa runtime reads the same files (NLU
routing check) and has no retrieval stack, so `retrieval_eval` is imported by name where needed.
"""

from knowledge.question_sets import (
    EvalQuestion,
    is_question_file,
    load_lines,
    load_questions_tsv,
    question_texts,
)

__all__ = ["EvalQuestion", "is_question_file", "load_lines", "load_questions_tsv",
           "question_texts"]
