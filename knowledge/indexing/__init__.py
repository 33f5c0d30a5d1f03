"""What the retriever searches: index units, the BM25 and dense indexes, index generations.

Units are the passages plus the anticipated questions that point back at them. A generation
(`IndexGeneration`) writes and reads its own directory; `IndexBuilder` makes one from the
store's passages and switches the live pointer to it. Encoders sit behind one interface so that
any packaged or operator-supplied Chinese sentence model can serve the dense leg.
"""

from knowledge.indexing.anticipated import (
    AnticipatedQuestion,
    IndexUnit,
    build_units,
    load_questions,
)
from knowledge.indexing.builder import IndexBuilder
from knowledge.indexing.dense_index import DenseIndex
from knowledge.indexing.encoders import (
    Encoder,
    EncoderUnavailable,
    load_encoder,
    set_inference_threads,
)
from knowledge.indexing.generation import IndexGeneration, current_generation
from knowledge.indexing.lexical_index import LexicalIndex

__all__ = ["AnticipatedQuestion", "DenseIndex", "Encoder", "EncoderUnavailable", "IndexBuilder",
           "IndexGeneration", "IndexUnit", "LexicalIndex", "build_units", "current_generation",
           "load_encoder", "load_questions", "set_inference_threads"]
