"""The eligibility engine over the real opinion: every rule, every conflict order, the CLI.

The knowledge store is a real one, ingested from the sources manifest into a temporary
directory, so every citation and quoted clause text is checked against the policy itself.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from knowledge.eligibility import (
    Assessment,
    ClauseUnavailable,
    DataFileError,
    EligibilityEngine,
    ProfileError,
)
from knowledge.eligibility.rules import DEFAULT_RULES_PATH, load_rules
from knowledge.ingestion.ingest import DocumentParser, Ingestor, read_manifest
from knowledge.knowledge_base import KnowledgeBase
from knowledge.models import ParsedDocument
from knowledge.settings import PROJECT_ROOT, KnowledgeSettings

DOC = "hebei-differentiated-control-opinion"
KB_BIN = PROJECT_ROOT / "bin" / "kb"
INCENTIVES = {"positive_list", "green_channel", "fiscal_tax", "electricity_price", "green_unit"}

# A complete profile of an ordinary, compliant, large enterprise outside the strategic fields.
CLEAN: dict[str, Any] = {
    "industry": "家具厂", "scale": "large", "procedures_complete": True,
    "meets_emission_standards": True, "heavy_pollution": False,
    "conforms_industrial_policy": True, "environmental_leader": False, "key_project": "none",
    "violations": [],
}


def profile(**changes: Any) -> dict[str, Any]:
    return {**CLEAN, **changes}


# (id, profile, category, rules that decide, rules overridden, other rules that must fire)
SCENARIOS = [
    ("classified", profile(), "classified", {"classified_other_industrial"}, set(),
     {"safeguard_no_blanket_penalty", "safeguard_early_warning", "hint_unknown_industry"}),
    ("priority-strategic", profile(industry="石墨烯导热膜"), "priority",
     {"priority_strategic_industry"}, set(), {"safeguard_early_warning"}),
    ("priority-leader", profile(environmental_leader=True), "priority",
     {"priority_environmental_leader"}, set(), set()),
    ("priority-national", profile(key_project="national"), "priority",
     {"priority_key_project"}, set(), set()),
    ("priority-provincial", profile(key_project="provincial"), "priority",
     {"priority_key_project"}, set(), set()),
    ("priority-municipal", profile(key_project="municipal"), "priority",
     {"priority_key_project"}, set(), set()),
    ("priority-all-three", profile(industry="数控机床", environmental_leader=True,
                                   key_project="national"), "priority",
     {"priority_strategic_industry", "priority_environmental_leader", "priority_key_project"},
     set(), set()),
    ("staggered", profile(heavy_pollution=True), "staggered", {"staggered_heavy_pollution"},
     set(), {"safeguard_early_warning"}),
    ("closure-procedures", profile(procedures_complete=False), "closure",
     {"closure_incomplete_procedures"}, set(), {"safeguard_no_blanket_penalty"}),
    ("closure-policy", profile(conforms_industrial_policy=False), "closure",
     {"closure_nonconforming_policy"}, set(), set()),
    ("closure-standards", profile(meets_emission_standards=False), "closure",
     {"closure_unstable_emissions"}, set(), set()),
    # conflict orders
    ("strategic-but-incomplete-procedures",
     profile(industry="创新药研发", procedures_complete=False), "closure",
     {"closure_incomplete_procedures"}, {"priority_strategic_industry"}, set()),
    ("key-project-polluting-heavily", profile(key_project="provincial", heavy_pollution=True),
     "staggered", {"staggered_heavy_pollution"}, {"priority_key_project"}, set()),
    ("heavy-polluter-below-standard",
     profile(heavy_pollution=True, meets_emission_standards=False), "closure",
     {"closure_unstable_emissions"}, {"staggered_heavy_pollution"}, set()),
    ("every-closure-reason-with-priority",
     profile(industry="光伏组件", procedures_complete=False, conforms_industrial_policy=False,
             meets_emission_standards=False, heavy_pollution=True, environmental_leader=True),
     "closure",
     {"closure_incomplete_procedures", "closure_nonconforming_policy",
      "closure_unstable_emissions"},
     {"staggered_heavy_pollution", "priority_strategic_industry",
      "priority_environmental_leader"}, set()),
    ("leader-with-secret-discharge", profile(environmental_leader=True, violations=["偷排偷放"]),
     "priority", {"priority_environmental_leader"}, set(),
     {"violation_enforcement", "violation_no_relaxation"}),
    ("no-permit", profile(violations=["没有排污许可证"]), "classified",
     {"classified_other_industrial"}, set(), {"violation_enforcement", "violation_no_permit"}),
    ("sme", profile(scale="small"), "classified", {"classified_other_industrial"}, set(),
     {"hint_sme_growth"}),
    ("nothing-known", {}, None, set(), set(), {"hint_undetermined"}),
]


def ingested(home: Path) -> KnowledgeBase:
    """A knowledge base whose store holds the manifest's documents, ingested for real.

    Only the store: the engine reads clauses, never the search index, whose build
    (`ingest_sources`) would cost most of this file's run time.
    """
    base = KnowledgeBase(KnowledgeSettings(home=home))
    ingestor = Ingestor(base.store, DocumentParser(base.normalizer))
    for entry in read_manifest(base.settings.sources_manifest):
        ingestor.ingest(entry)
    return base


def scenario(name: str) -> dict[str, Any]:
    return next(s[1] for s in SCENARIOS if s[0] == name)


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    return ingested(tmp_path_factory.mktemp("kb"))


@pytest.fixture(scope="module")
def engine(kb: KnowledgeBase) -> EligibilityEngine:
    return kb.eligibility_engine()


def fired(a: Assessment, effect: str | None = None) -> set[str]:
    return {r.rule for r in a.reasons if effect is None or r.effect == effect}


def ids(items: Any) -> list[str]:
    return [i.id for i in items]


# ---------------------------------------------------------------------------- every rule


@pytest.mark.parametrize(("profile_", "category", "decides", "overridden", "also"),
                         [s[1:] for s in SCENARIOS], ids=[s[0] for s in SCENARIOS])
def test_scenario(engine: EligibilityEngine, profile_: dict, category: str | None,
                  decides: set[str], overridden: set[str], also: set[str]) -> None:
    a = engine.assess(profile_)
    assert a.category == category
    assert fired(a, "decides") == decides
    assert fired(a, "overridden") == overridden
    assert also <= fired(a)
    assert all(r.overridden_by == category for r in a.reasons if r.effect == "overridden")


def test_the_scenarios_fire_every_rule_in_the_file(engine: EligibilityEngine) -> None:
    seen = set().union(*(fired(engine.assess(s[1])) for s in SCENARIOS))
    assert seen == {r.id for r in engine.rules.rules}


def test_the_data_files_match_the_opinion_in_force(engine: EligibilityEngine) -> None:
    assert engine.check() == []


def test_reasons_quote_the_clause_from_the_store(engine: EligibilityEngine,
                                                 kb: KnowledgeBase) -> None:
    a = engine.assess(scenario("every-closure-reason-with-priority"))  # several overridden
    assert len(a.reasons) >= 6
    for r in a.reasons:
        clause = kb.store.clause(DOC, "2019", r.clause_key)
        assert clause is not None
        assert (r.doc_id, r.version, r.citation, r.clause_text) == (
            DOC, "2019", clause.citation, clause.text)
        assert r.citation.startswith("《关于进一步强化生态环境领域差别化管控措施")


def test_measures_obligations_and_steps_carry_their_citation(engine: EligibilityEngine,
                                                             kb: KnowledgeBase) -> None:
    a = engine.assess(profile(industry="石墨烯导热膜", violations=["超标"]))
    items = [*a.measures, *a.obligations, *a.next_steps]
    assert items
    for item in items:
        clause = kb.store.clause(DOC, "2019", item.clause_key)
        assert clause is not None and item.citation == clause.citation
        assert len(item.text) <= 40  # phone-sized


def test_priority_gets_the_support_measures_of_the_opinion(engine: EligibilityEngine) -> None:
    a = engine.assess(profile(industry="石墨烯导热膜", scale="small"))
    assert a.fields == ("新材料",)
    assert set(ids(a.measures)) >= INCENTIVES | {
        "precise_support", "development_space", "policy_consultation", "early_warning",
        "no_blanket_penalty"}
    texts = " ".join(m.text for m in a.measures)
    for phrase in ("正向鼓励清单", "绿色通道", "环保财税政策", "差别化电价", "绿色单位评选",
                   "产业政策咨询", "提前1至2天", "一律顶格处罚", "一律关停"):
        assert phrase in texts
    assert ids(a.obligations) == ["keep_compliant"]
    assert a.summary and a.category_label == "优先服务保障"


def test_classified_gets_joint_assistance_and_supervision(engine: EligibilityEngine) -> None:
    a = engine.assess(profile())
    assert {"policy_consultation", "pollution_tech_service", "treatment_service",
            "early_warning", "no_blanket_penalty"} == set(ids(a.measures))
    assert not INCENTIVES & set(ids(a.measures))
    assert "sector_supervision" in ids(a.obligations)
    assert "ultra_low_emission" in ids(a.next_steps)


def test_staggered_must_stagger_and_gets_warnings_in_time(engine: EligibilityEngine) -> None:
    a = engine.assess(profile(heavy_pollution=True))
    assert ids(a.obligations) == ["staggered_production", "stricter_enforcement",
                                  "deep_treatment"]
    assert "early_warning" in ids(a.measures)
    assert "check_stagger_list" in ids(a.next_steps)


def test_closure_gets_no_warning_but_no_blanket_shutdown(engine: EligibilityEngine) -> None:
    a = engine.assess(profile(procedures_complete=False))
    assert "early_warning" not in ids(a.measures)
    assert {"no_blanket_penalty", "policy_consultation"} <= set(ids(a.measures))
    assert ids(a.obligations) == ["closure_by_law"]
    assert ids(a.next_steps) == ["complete_procedures"]


def test_overridden_rules_contribute_nothing(engine: EligibilityEngine) -> None:
    a = engine.assess(profile(industry="创新药研发", procedures_complete=False))
    assert a.fields == ("生物医药健康",)
    assert not INCENTIVES & set(ids(a.measures))
    assert "keep_compliant" not in ids(a.obligations)


# ---------------------------------------------------------------------------- violations


@pytest.mark.parametrize(("text", "kind"), [
    ("弄虚作假", "fraud"), ("在线监测数据造假", "fraud"),
    ("违法生产", "illegal_production"), ("未批先建", "illegal_production"),
    ("偷排偷放", "secret_discharge"), ("私设暗管", "secret_discharge"),
    ("超标排放", "exceeding_standards"), ("无证排污", "no_permit"),
    ("被环保局罚过款", "other"),
])
def test_each_violation_adds_the_enforcement_clause(engine: EligibilityEngine, text: str,
                                                    kind: str) -> None:
    a = engine.assess(profile(violations=[text]))
    assert [v.type for v in a.violations] == [kind]
    enforcement = [r for r in a.reasons if r.rule == "violation_enforcement"]
    assert enforcement and enforcement[0].clause_key == "保障措施/1"
    assert "一律依法依规严肃查处" in enforcement[0].clause_text
    assert ids(a.obligations)[0] == "stop_violation"  # listed first: the most urgent
    assert ids(a.next_steps)[0] == "rectify_violation"


@pytest.mark.parametrize("base", [s for s in SCENARIOS if not s[1].get("violations")],
                         ids=lambda s: s[0])
def test_violations_never_change_the_category(engine: EligibilityEngine, base: tuple) -> None:
    without = engine.assess(base[1])
    with_violation = engine.assess({**base[1], "violations": ["偷排"]})
    assert with_violation.category == without.category
    assert {"violation_enforcement", "violation_no_relaxation"} <= fired(with_violation)
    assert "stop_violation" in ids(with_violation.obligations)


def test_a_violation_withholds_the_incentives(engine: EligibilityEngine) -> None:
    a = engine.assess(profile(environmental_leader=True, violations=["偷排偷放"]))
    assert a.category == "priority"
    assert not INCENTIVES & set(ids(a.measures))
    assert "precise_support" in ids(a.measures)
    assert "support_paused" in ids(a.next_steps)
    assert any(r.effect == "withholds" and r.clause_key == "工作原则/3" for r in a.reasons)


@pytest.mark.parametrize("none", [[], ["无"], ["没有"], ["none"], [" 否 "]])
def test_saying_none_is_no_violation(engine: EligibilityEngine, none: list[str]) -> None:
    a = engine.assess(profile(violations=none))
    assert a.violations == ()
    assert not any(r.rule.startswith("violation_") for r in a.reasons)


def test_several_violations_in_one_report(engine: EligibilityEngine) -> None:
    a = engine.assess(profile(violations=["偷排加超标", "无证"]))
    assert [v.type for v in a.violations] == ["secret_discharge", "exceeding_standards",
                                              "no_permit"]
    assert "obtain_permit" in ids(a.next_steps)


# ---------------------------------------------------------------------------- hints


@pytest.mark.parametrize(("scale", "hint"), [("micro", True), ("small", True),
                                              ("medium", True), ("large", False),
                                              (None, False)])
def test_sme_hint(engine: EligibilityEngine, scale: str | None, hint: bool) -> None:
    a = engine.assess(profile(scale=scale))
    assert ("sme_apply_priority" in ids(a.next_steps)) is hint


def test_no_sme_hint_for_a_violator(engine: EligibilityEngine) -> None:
    a = engine.assess(profile(scale="micro", violations=["超标"]))
    assert "sme_apply_priority" not in ids(a.next_steps)


def test_unknown_industry_is_reported_and_not_guessed(engine: EligibilityEngine) -> None:
    a = engine.assess(profile(industry="开饭馆"))
    assert a.fields == () and a.industry is not None and a.industry.unknown
    assert a.category == "classified"
    assert "describe_industry" in ids(a.next_steps)


# ---------------------------------------------------------------------------- missing facts


def test_nothing_known_lists_every_deciding_fact_in_profile_order(
        engine: EligibilityEngine) -> None:
    a = engine.assess({})
    assert a.category is None and a.summary is None
    assert a.missing == ("industry", "procedures_complete", "meets_emission_standards",
                         "heavy_pollution", "conforms_industrial_policy",
                         "environmental_leader", "key_project")
    assert a.measures == () and a.obligations == ()
    assert ids(a.next_steps) == ["provide_missing"]


def test_a_strategic_firm_still_needs_the_closure_and_staggered_facts(
        engine: EligibilityEngine) -> None:
    a = engine.assess({"industry": "石墨烯导热膜", "scale": "small"})
    assert a.category is None
    assert a.missing == ("procedures_complete", "meets_emission_standards", "heavy_pollution",
                         "conforms_industrial_policy")
    assert fired(a, "pending") == {"priority_strategic_industry"}
    assert a.fields == ("新材料",)


def test_one_closure_fact_decides_without_the_rest(engine: EligibilityEngine) -> None:
    a = engine.assess({"procedures_complete": False})
    assert a.category == "closure" and a.missing == ()


def test_a_compliant_firm_needs_the_priority_facts(engine: EligibilityEngine) -> None:
    facts = {k: CLEAN[k] for k in ("procedures_complete", "meets_emission_standards",
                                   "heavy_pollution", "conforms_industrial_policy")}
    assert engine.assess(facts).missing == ("industry", "environmental_leader", "key_project")
    facts["industry"] = "开饭馆"
    assert engine.assess(facts).missing == ("environmental_leader", "key_project")
    facts["key_project"] = "municipal"
    assert engine.assess(facts).category == "priority"


def test_facts_that_could_only_raise_the_category_leave_the_supported_one(
    engine: EligibilityEngine,
) -> None:
    """Only the priority facts (环保领跑者, key project) unknown: the known facts support
    classified supervision, and the assessment says what could still raise it."""
    facts = {**{k: CLEAN[k] for k in ("procedures_complete", "meets_emission_standards",
                                      "heavy_pollution", "conforms_industrial_policy")},
             "industry": "服装加工"}
    a = engine.assess(facts)
    assert a.category == "classified"
    assert a.missing == ("environmental_leader", "key_project")
    assert a.open_categories == ("优先服务保障",)


def test_an_open_adverse_category_still_decides_nothing(engine: EligibilityEngine) -> None:
    """Emissions unknown could mean closure: no category, whatever else is known."""
    facts = {**CLEAN, "meets_emission_standards": None}
    a = engine.assess(facts)
    assert a.category is None and a.missing == ("meets_emission_standards",)


def test_every_assessment_says_the_authority_decides(engine: EligibilityEngine) -> None:
    for s in SCENARIOS:
        a = engine.assess(s[1]).to_json()
        assert "主管部门" in a["disclaimer"]
        assert a["document"]["version"] == "2019"


def test_json_shape(engine: EligibilityEngine) -> None:
    data = engine.assess(profile(industry="锂电池")).to_json()
    json.dumps(data, ensure_ascii=False)
    assert {"category", "missing", "fields", "measures", "obligations", "reasons",
            "next_steps", "disclaimer"} <= set(data)
    assert data["fields"] == ["新能源与智能电网", "新能源汽车与智能网联汽车"]
    assert {"rule", "citation", "clause_text"} <= set(data["reasons"][0])


@pytest.mark.parametrize(("bad", "message"), [
    ({"procedure_complete": True}, "procedure_complete: unknown field"),
    ({"heavy_pollution": "yes"}, "heavy_pollution"),
    ({"scale": "huge"}, "scale"),
    ({"key_project": "county"}, "key_project"),
    ({"violations": "偷排"}, "violations"),
])
def test_invalid_profiles_are_refused_clearly(engine: EligibilityEngine, bad: dict,
                                              message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        engine.assess(bad)


# ---------------------------------------------------------------------------- versions


def _republish(kb: KnowledgeBase, version: str, effective: str, edit: dict[str, str | None]
               ) -> None:
    """Saves a copy of the 2019 opinion as another version, with clauses edited or dropped."""
    clauses = []
    for c in kb.store.clauses(DOC):
        if c.version != "2019" or (c.clause_key in edit and edit[c.clause_key] is None):
            continue
        text = edit.get(c.clause_key) or c.text
        clauses.append(dataclasses.replace(c, version=version, text=text))
    info = next(d for d in kb.store.documents() if d.version == "2019")
    kb.store.save(ParsedDocument(dataclasses.replace(info, version=version, effective=effective),
                                 "", clauses, [], []))


@pytest.fixture
def amended_kb(tmp_path: Path) -> KnowledgeBase:
    return ingested(tmp_path / "kb")


def test_the_version_in_force_is_quoted(amended_kb: KnowledgeBase) -> None:
    _republish(amended_kb, "2020", "2020-06-01", {"工作任务/2": "提前2至3天发布预警信息。"})
    a = amended_kb.eligibility_engine().assess(profile())
    assert a.document["version"] == "2020"
    warning = next(r for r in a.reasons if r.rule == "safeguard_early_warning")
    assert (warning.version, warning.clause_text) == ("2020", "提前2至3天发布预警信息。")
    pinned = amended_kb.eligibility_engine(versions={DOC: "2019"})
    assert pinned.assess(profile()).document["version"] == "2019"


def test_an_amendment_that_drops_a_cited_clause_is_caught(amended_kb: KnowledgeBase) -> None:
    _republish(amended_kb, "2021", "2021-01-01", {"工作任务/6": None})
    engine = amended_kb.eligibility_engine()
    problems = engine.check()
    assert problems and all("工作任务/6" in p for p in problems)
    assert any(p.startswith(f"{DEFAULT_RULES_PATH}:") and "measure policy_consultation" in p
               for p in problems)
    with pytest.raises(ClauseUnavailable, match="工作任务/6"):
        engine.assess(profile())


def test_an_empty_store_says_to_ingest(tmp_path: Path) -> None:
    engine = KnowledgeBase(KnowledgeSettings(home=tmp_path)).eligibility_engine()
    with pytest.raises(ClauseUnavailable, match="bin/kb ingest"):
        engine.assess(profile())


# ---------------------------------------------------------------------------- the rules file


def _copy_data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(PROJECT_ROOT / "knowledge" / "data", data)
    return data


def _touch_later(path: Path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_an_edited_rules_file_applies_without_restart(kb: KnowledgeBase, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    data = _copy_data(tmp_path)
    rules = data / "eligibility_rules.yml"
    engine = EligibilityEngine(kb.store, kb.normalizer, rules, data / "industry_lexicon.yml")
    original = rules.read_text(encoding="utf-8")
    assert engine.assess(profile()).disclaimer == "以上是依据政策原文的初步评估，最终以主管部门认定为准。"

    rules.write_text(original.replace("最终以主管部门认定为准", "以主管部门最终认定为准"),
                     encoding="utf-8")
    _touch_later(rules)
    assert engine.assess(profile()).disclaimer.endswith("以主管部门最终认定为准。")

    # A broken edit does not take the assistant down: the last good rules keep serving.
    rules.write_text(original.replace("category: staggered", "category: stagered", 1),
                     encoding="utf-8")
    _touch_later(rules)
    with caplog.at_level(logging.ERROR):
        assert engine.assess(profile()).disclaimer.endswith("以主管部门最终认定为准。")
    assert "stagered" in caplog.text
    with pytest.raises(DataFileError):
        EligibilityEngine(kb.store, kb.normalizer, rules, data / "industry_lexicon.yml"
                          ).assess(profile())


def _edit_rules(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT_RULES_PATH.read_text(encoding="utf-8")
    assert text.count(old) >= 1, old
    path = tmp_path / "rules.yml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def _line_of(path: Path, line_text: str) -> int:
    """The last line of the file that contains `line_text`."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return max(n for n, text in enumerate(lines, start=1) if line_text in text)


RULE_FILE_ERRORS = [
    ("unknown-fact", "when: {fact: heavy_pollution, is: true}",
     "when: {fact: heavy_polution, is: true}", "heavy_polution", "unknown fact"),
    ("unknown-measure", "next_steps: [check_stagger_list,", "next_steps: [check_stager_list,",
     "check_stager_list", "unknown next_step 'check_stager_list'"),
    ("bad-category", "    category: staggered", "    category: stagered",
     "category: stagered", "category must be one of"),
    ("bad-enum-value", "in: [national, provincial, municipal]", "in: [national, county]",
     "county", "'county' is not a value of 'key_project'"),
    ("op-for-another-kind", "when: {fact: heavy_pollution, is: true}",
     "when: {fact: heavy_pollution, nonempty: true}", "heavy_pollution, nonempty",
     "'nonempty' is for list facts"),
    ("duplicate-rule-id", "  - id: closure_nonconforming_policy",
     "  - id: closure_incomplete_procedures", "id: closure_incomplete_procedures",
     "duplicate rule id"),
    ("duplicate-key", "    category: staggered\n    clause: 工作原则/2\n",
     "    category: staggered\n    clause: 工作原则/2\n    clause: 工作原则/3\n",
     "clause: 工作原则/3", "duplicate key 'clause'"),
    ("missing-reason", "    reason: 污染严重的行业企业，意见要求错峰生产、加大执法监管。\n", "",
     "id: staggered_heavy_pollution", "reason: Field required"),
    ("too-long-for-a-phone", "disclaimer: 以上是", "disclaimer: " + "很长" * 40 + "以上是",
     "disclaimer:", "at most 60 characters"),
    ("no-fallback", "    when: {always: true}", "    when: {fact: scale, is: large}",
     "category_order:", "needs a rule with 'when: {always: true}'"),
    ("withhold-in-category-rule", "    obligations: [closure_by_law]\n    next_steps: [complete",
     "    withhold_measures: [green_unit]\n    obligations: [closure_by_law]\n"
     "    next_steps: [complete", "withhold_measures: [green_unit]",
     "only rules without a category may withhold"),
    ("yaml-syntax", "    reason: 手续不全的企业，意见要求依法关停取缔。",
     "    reason: 手续不全的企业，意见要求依法关停取缔。\n   bad: [", "bad: [", "YAML syntax"),
]


@pytest.mark.parametrize(("old", "new", "line_text", "message"),
                         [e[1:] for e in RULE_FILE_ERRORS], ids=[e[0] for e in RULE_FILE_ERRORS])
def test_rules_file_errors_name_the_line(tmp_path: Path, old: str, new: str, line_text: str,
                                         message: str) -> None:
    path = _edit_rules(tmp_path, old, new)
    with pytest.raises(DataFileError) as err:
        load_rules(path)
    assert message in str(err.value)
    assert f"{path}:{_line_of(path, line_text)}:" in str(err.value), str(err.value)


def test_the_shipped_rules_file_loads(engine: EligibilityEngine) -> None:
    rules = engine.rules
    assert rules.category_order == ("closure", "staggered", "priority", "classified")
    assert {v.label for v in rules.violation_types} == {
        "弄虚作假", "违法生产", "偷排偷放", "超标排放", "无证排污"}


# ---------------------------------------------------------------------------- bin/kb assess


def run_kb(kb: KnowledgeBase, args: list[str], stdin: str, data_dir: Path | None = None
           ) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KB_HOME=str(kb.settings.home))
    if data_dir is not None:
        env["KB_DATA_DIR"] = str(data_dir)
    return subprocess.run([str(KB_BIN), *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def test_cli_assesses_one_profile(kb: KnowledgeBase) -> None:
    done = run_kb(kb, ["assess", "--json"], json.dumps(profile(industry="光伏组件")))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["category"] == "priority"
    assert data["fields"] == ["新能源与智能电网"]
    assert "主管部门" in data["disclaimer"]


def test_cli_json_lines_one_result_per_line_in_order(kb: KnowledgeBase) -> None:
    lines = [
        json.dumps(profile(procedures_complete=False)),
        "{not json",
        json.dumps(profile(heavy_pollution=True)),
        "",
        json.dumps({"scale": "huge"}),
        json.dumps({"industry": "石墨烯导热膜"}),
        json.dumps(profile(violations=["偷排"])),
    ]
    done = run_kb(kb, ["assess", "-", "--json"], "\n".join(lines) + "\n")
    assert "Traceback" not in done.stderr
    assert done.returncode == 1  # some lines were bad
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(out) == len(lines)
    assert [o.get("category", "error") if "error" not in o else "error" for o in out] == [
        "closure", "error", "staggered", "error", "error", None, "classified"]
    assert out[1]["line"] == 2 and "invalid JSON" in out[1]["error"]
    assert "scale" in out[4]["error"]
    assert out[5]["missing"] == ["procedures_complete", "meets_emission_standards",
                                 "heavy_pollution", "conforms_industrial_policy"]
    assert any(r["clause_key"] == "保障措施/1" for r in out[6]["reasons"])


def test_cli_bad_json_is_an_error_line_not_a_traceback(kb: KnowledgeBase) -> None:
    done = run_kb(kb, ["assess", "--json"], "{'industry': '新材料'}")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "invalid JSON" in json.loads(done.stdout)["error"]


def test_cli_text_output_and_check(kb: KnowledgeBase) -> None:
    done = run_kb(kb, ["assess"], json.dumps(profile(industry="数控机床")))
    assert done.returncode == 0, done.stderr
    assert "类别：优先服务保障（高端装备制造）" in done.stdout
    assert "工作原则 第1条" in done.stdout
    check = run_kb(kb, ["assess", "--check"], "")
    assert check.returncode == 0 and check.stdout.startswith("ok:")


def test_cli_broken_rules_file_names_the_line(kb: KnowledgeBase, tmp_path: Path) -> None:
    data = _copy_data(tmp_path)
    rules = data / "eligibility_rules.yml"
    rules.write_text(rules.read_text(encoding="utf-8").replace(
        "when: {fact: heavy_pollution, is: true}", "when: {fact: heavy_polution, is: true}"),
        encoding="utf-8")
    done = run_kb(kb, ["assess", "--json"], json.dumps(profile()), data_dir=data)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"{rules}:{_line_of(rules, 'heavy_polution')}:" in done.stderr
