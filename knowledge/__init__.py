"""Policy knowledge base, one package per pipeline stage.

    language    normal form of Chinese text, segmentation, question splitting (shared by all)
    ingestion   source files -> cleaned text -> clauses and passages
    store       the SQLite clause store (source of truth) and document version status
    indexing    BM25 and dense indexes, encoders, anticipated questions, index generations
    retrieval   query analysis, the retriever, fusion, what an answer may say
    publishing  versions: add, diff, publish without a restart
    eligibility rules-as-data assessment of an enterprise profile
    evaluation  question sets and retrieval measurements
    cli         `bin/kb`

`knowledge_base.KnowledgeBase` wires the stages together for the CLI, the action server and
the console; `settings.KnowledgeSettings` is their configuration. Runs in the action-server
runtime (Python 3.11); the Rasa runtime imports only `knowledge.language` and
`knowledge.question_sets`, which need nothing beyond OpenCC, jieba and PyYAML.
"""
