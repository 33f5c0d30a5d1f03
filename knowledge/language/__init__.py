"""Chinese text handling shared by documents and queries, and by both runtimes.

One normal form (Simplified, NFKC, pinyin annotations removed), one segmentation, and the
splitting of a message into questions. Depends on OpenCC, jieba and PyYAML only, because the
Rasa runtime's NLU tokenizer imports it too.
"""

from knowledge.language.normalizer import NormalizationRules, TextNormalizer
from knowledge.language.question_splitter import is_question, split_questions
from knowledge.language.tokenizer import ChineseTokenizer

__all__ = ["ChineseTokenizer", "NormalizationRules", "TextNormalizer", "is_question",
           "split_questions"]
