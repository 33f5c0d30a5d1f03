"""Slot names the actions set and the console, metrics and tests read (see domain.yml).

The enterprise-profile slots are named after the fields of `knowledge.eligibility.profile.Profile`
(one slot per field, filled by the profile form); they are not repeated here.
"""

LAST_QUESTION = "last_question"  # the policy question last answered (feedback refers to it)
LAST_CITATIONS = "last_citations"  # citations of the last answer, for "详细说说" and review
LAST_RETRIEVAL = "last_retrieval"  # the passages and scores behind the last answer (console)
LAST_ASSESSMENT = "last_assessment"  # the last eligibility assessment (JSON)
HUMAN_OFFERED = "human_offered"  # a human was offered; "好的" then means "yes, a human"
NEEDS_HUMAN = "needs_human"  # handed over: the review queue shows the conversation
HANDOFF_REASON = "handoff_reason"  # one of HANDOFF_REASONS
FALLBACK_COUNT = "fallback_count"  # consecutive turns the assistant did not understand
NEGATIVE_FEEDBACK = "negative_feedback"  # {"comment": ..., "question": ...} when it did not help
# The profile field whose terse adverse answer ("不是") the form repeats back before using it,
# and the form slot that asks for that confirmation (never filled: answering clears the first).
FACT_TO_CONFIRM = "fact_to_confirm"
LAST_ANSWER_PASSAGES = "last_answer_passages"  # passages the last policy answer quoted
ASSESSMENT_OFFERED = "assessment_offered"  # the full assessment was offered; "好的" starts it
CONFIRM_FACT = "confirm_fact"

# Values of HANDOFF_REASON.
HANDOFF_USER_REQUEST = "user_request"  # the user asked for a human
HANDOFF_ACCEPTED_OFFER = "accepted_offer"  # the user accepted the assistant's offer of one
HANDOFF_REASONS = (HANDOFF_USER_REQUEST, HANDOFF_ACCEPTED_OFFER)

SHARED_SLOTS = (LAST_QUESTION, LAST_CITATIONS, LAST_RETRIEVAL, LAST_ASSESSMENT, HUMAN_OFFERED,
                NEEDS_HUMAN, HANDOFF_REASON, FALLBACK_COUNT, NEGATIVE_FEEDBACK, FACT_TO_CONFIRM,
                CONFIRM_FACT, ASSESSMENT_OFFERED, LAST_ANSWER_PASSAGES)
