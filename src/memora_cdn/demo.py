"""The demo catalogue that `memora-cdn demo` seeds into the embedded default.

A realistic Memora catalogue in the Frappe-layout content tables (SPEC §1): a season, grades
and streams; three published plans that share subjects and one draft plan; paid, public and
DLC content; every override action; Arabic and English titles; lessons with stages of every
type. One plan ("Grade 12 Scientific") is large enough for its search index to be sharded.

`demo_catalogue()` only builds rows (deterministic, no clock); `seed()` writes them;
`refuse_foreign_content()` keeps the demo off a database that holds anything else.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

import sqlalchemy as sa

from memora_cdn.core.model import Doctype, OverrideAction, StageType
from memora_cdn.errors import ForeignContentError
from memora_cdn.source.schema import CHILD_TABLES, DELETED_DOCUMENT, FIELDS, content_metadata

Row = Mapping[str, object]
"""One table row: column name → value, as inserted."""

DEMO_TIMESTAMP = datetime(2026, 1, 1, 0, 0, 0)
"""The `creation` and `modified` of every demo row."""

DEMO_USER = "Administrator"
MEDIA_BASE_URL = "https://media.memora.example"
"""Where the demo's images and videos point."""

DEMO_PLANS: tuple[str, ...] = ("PLAN-G10-SCI", "PLAN-G10-LIT", "PLAN-G12-SCI", "PLAN-G11-GEN")
"""Every demo plan; all but the last are published."""

PUBLISHED_DEMO_PLANS: tuple[str, ...] = DEMO_PLANS[:3]
"""The demo plans that are published (and so exported)."""

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The demo rows, per table name, in an order that puts parents first."""

    tables: Mapping[str, tuple[Row, ...]]

    def rows(self, table: str) -> tuple[Row, ...]:
        """The rows of one table (empty if the demo has none)."""
        return self.tables.get(table, ())

    @property
    def total(self) -> int:
        """The number of rows in all tables."""
        return sum(len(rows) for rows in self.tables.values())


@dataclass(frozen=True, slots=True)
class SeedResult:
    """What `seed` inserted: rows per table name (0 for a table already seeded)."""

    inserted: Mapping[str, int]

    @property
    def total(self) -> int:
        """The number of rows inserted in all tables."""
        return sum(self.inserted.values())


# --- The curriculum ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Subject:
    name: str
    title: str
    description: str
    color_code: str
    widget: tuple[str, Mapping[str, object]]
    """The Interactive stages' widget and its params."""
    outline: str
    """A track per line (`TRK-NAME | CODE | Title`), its units indented below it
    (`Unit title | topic | topic …`). Units are named `UNIT-{CODE}-01`, topics
    `TOP-{CODE}-01-1`; sort orders follow the outline unless listed below."""
    sort_order: int = 0
    arabic: bool = False
    lessons_per_topic: int = 3
    is_published: bool = True
    is_public: bool = False
    required_item: str | None = None
    is_linear: bool = True


_GRAPH = ("graph-plotter", {"expression": "x^2 - 4*x + 3", "x_range": [-2, 6], "show_grid": True})
_SIMULATION = ("physics-simulation", {"model": "projectile", "gravity": 9.81, "angle": 45})
_MOLECULE = ("molecule-viewer", {"molecule": "C6H12O6", "rotate": True})
_DIAGRAM = ("labelled-diagram", {"diagram": "animal-cell", "labels": 8})
_ORDERING = ("drag-and-drop", {"mode": "sentence-order", "items": 5})
_TIMELINE = ("timeline", {"from_year": 632, "to_year": 1258, "events": 6})

_SUBJECTS = (
    _Subject(
        "SUBJ-MATH",
        "Mathematics",
        "Algebra and geometry for Grade 10, with worked examples and practice sets.",
        "#1E88E5",
        _GRAPH,
        """
        TRK-MATH-ALG | ALG | Algebra
            Linear Equations | Solving Linear Equations | Slope | Systems of Two Equations
            Quadratic Equations | Factoring | The Quadratic Formula | The Discriminant
            الجبر: المتباينات | المتباينات الخطية | المتباينات التربيعية | القيمة المطلقة
            Functions and Graphs | Domain and Range | Linear Functions | Transformations
        TRK-MATH-GEO | GEO | Geometry
            Triangles | Congruent Triangles | Similar Triangles | Pythagoras
            Circles | Arcs and Chords | Inscribed Angles
        TRK-MATH-OLY | OLY | Olympiad Preparation
            Number Theory | Divisibility | Modular Arithmetic
            Combinatorics | The Pigeonhole Principle
        """,
        sort_order=10,
        required_item="COURSE-001",
    ),
    _Subject(
        "SUBJ-ARAB",
        "اللغة العربية",
        "النحو والأدب للصف العاشر: قواعد الجملة وروائع الشعر والنثر.",
        "#6D4C41",
        _ORDERING,
        """
        TRK-ARAB-NAHW | ARG | النحو
            الجملة الاسمية | المبتدأ والخبر | كان وأخواتها | إنّ وأخواتها
            الجملة الفعلية | الفعل والفاعل | المفعول به | المبني للمجهول
        TRK-ARAB-ADAB | ARL | الأدب
            الشعر الجاهلي | المعلقات | امرؤ القيس
            النثر | الخطابة | الرسائل
        """,
        sort_order=20,
        arabic=True,
        is_public=True,
    ),
    _Subject(
        "SUBJ-ENG",
        "English Language",
        "Reading, grammar and writing skills for secondary students.",
        "#FB8C00",
        _ORDERING,
        """
        TRK-ENG-SKILLS | ENG | Language Skills
            Reading Comprehension | Skimming and Scanning | Main Ideas
            Grammar in Use | Tenses | Conditionals
            Academic Writing | Paragraph Structure | Essays
        """,
        sort_order=40,
        is_linear=False,
    ),
    _Subject(
        "SUBJ-PHYS",
        "Physics",
        "Motion, forces, energy and waves.",
        "#E53935",
        _SIMULATION,
        """
        TRK-PHYS-CORE | PHY | Core Physics
            Motion | Speed and Velocity | Acceleration | Motion Graphs
            Forces | Newton's First Law | Newton's Second Law | Weight and Mass
            Energy | Kinetic Energy | Potential Energy | Power
            Waves | Wave Properties | Sound | Light
            Modern Physics | Atoms | Radioactivity
        TRK-PHYS-LAB | LAB | Laboratory Skills
            Measurement | Uncertainty | Significant Figures
        """,
        sort_order=30,
    ),
    _Subject(
        "SUBJ-HIST",
        "History",
        "From the Rashidun caliphate to the modern Arab world. التاريخ العربي والإسلامي.",
        "#5E35B1",
        _TIMELINE,
        """
        TRK-HIST-ARAB | HIS | Arab History
            The Abbasid Era | Baghdad, City of Learning | The House of Wisdom
            Early Islamic History | The Rashidun Caliphate | The Umayyads
            The Modern Arab World | The Arab Revolt | Independence Movements
        """,
        sort_order=30,
    ),
    _Subject(
        "SUBJ-PHIL",
        "Philosophy",
        "Draft: an introduction to logic and argument.",
        "#546E7A",
        _ORDERING,
        """
        TRK-PHIL-INTRO | PHL | Introduction to Philosophy
            Logic | Arguments | Fallacies
        """,
        is_published=False,
    ),
    _Subject(
        "SUBJ-MATH12",
        "Advanced Mathematics",
        "Calculus, linear algebra and statistics for the Grade 12 scientific stream.",
        "#3949AB",
        _GRAPH,
        """
        TRK-CALC | CALC | Calculus
            Limits and Continuity | Limits | One-sided Limits | Continuity
            Derivatives | The Derivative | Differentiation Rules | The Chain Rule
            Applications of Derivatives | Rates of Change | Optimisation | Curve Sketching
            Integrals | Antiderivatives | Definite Integrals | Area Between Curves
        TRK-LINALG | LIN | Linear Algebra
            Matrices | Matrix Operations | Determinants | Inverse Matrices
            Systems of Equations | Gaussian Elimination | Cramer's Rule | Applications
            Vectors | Vectors in the Plane | Dot Product | Vectors in Space
            Complex Numbers | Complex Arithmetic | Polar Form | De Moivre's Theorem
        TRK-STAT | STAT | Probability and Statistics
            Counting | Permutations | Combinations | The Binomial Theorem
            Probability | Sample Spaces | Conditional Probability | Independence
            Random Variables | Discrete Distributions | Expected Value | Variance
            Statistics | Descriptive Statistics | The Normal Distribution | Sampling
        """,
        sort_order=10,
        lessons_per_topic=4,
        required_item="COURSE-002",
    ),
    _Subject(
        "SUBJ-PHYS12",
        "Physics 12",
        "Mechanics, electromagnetism and an optional astrophysics module.",
        "#C62828",
        _SIMULATION,
        """
        TRK-MECH | MECH | Mechanics
            Kinematics | Motion in One Dimension | Projectile Motion | Relative Motion
            Dynamics | Newton's Laws | Friction | Circular Motion
            Energy and Momentum | Work and Energy | Conservation of Energy | Collisions
            Oscillations | Simple Harmonic Motion | Pendulums | Damped Oscillations
        TRK-ELEC | ELEC | Electricity and Magnetism
            Electrostatics | Coulomb's Law | Electric Fields | Electric Potential
            Circuits | Current and Resistance | Kirchhoff's Laws | Capacitors
            Magnetism | Magnetic Fields | Magnetic Force | Electromagnetic Induction
            Alternating Current | AC Generators | Transformers | RLC Circuits
        TRK-ASTRO | ASTRO | Astrophysics
            The Solar System | Kepler's Laws | Gravitation | Orbits
            Stars | Stellar Spectra | The Life of a Star | Black Holes
            Cosmology | The Expanding Universe | The Big Bang | Dark Matter
        """,
        sort_order=20,
        lessons_per_topic=4,
    ),
    _Subject(
        "SUBJ-CHEM12",
        "Chemistry 12",
        "General, physical and organic chemistry.",
        "#43A047",
        _MOLECULE,
        """
        TRK-CHEM-GEN | GCHEM | General Chemistry
            Atomic Structure | Electron Configuration | Periodic Trends | Quantum Numbers
            Chemical Bonding | Ionic Bonds | Covalent Bonds | Molecular Geometry
            Stoichiometry | The Mole | Limiting Reagents | Percent Yield
            Thermochemistry | Enthalpy | Hess's Law | Calorimetry
        TRK-CHEM-PHYS | PCHEM | Physical Chemistry
            Reaction Rates | Rate Laws | Activation Energy | Catalysts
            Chemical Equilibrium | Equilibrium Constants | Le Chatelier's Principle | Solubility
            Acids and Bases | pH and pOH | Buffers | Titrations
            Electrochemistry | Redox Reactions | Galvanic Cells | Electrolysis
        TRK-CHEM-ORG | ORG | Organic Chemistry
            Hydrocarbons | Alkanes | Alkenes and Alkynes | Aromatic Compounds
            Functional Groups | Alcohols | Carboxylic Acids | Esters
            Polymers | Addition Polymers | Condensation Polymers | Biopolymers
        """,
        sort_order=30,
        lessons_per_topic=4,
    ),
    _Subject(
        "SUBJ-BIO12",
        "Biology 12",
        "Cells, genetics and human physiology.",
        "#00897B",
        _DIAGRAM,
        """
        TRK-BIO-CELL | CELL | Cell Biology
            The Cell | Cell Structure | The Cell Membrane | Cell Transport
            Cell Energy | Enzymes | Cellular Respiration | Photosynthesis
            Cell Division | Mitosis | Meiosis | The Cell Cycle
        TRK-BIO-GEN | GEN | Genetics
            Molecular Genetics | DNA Structure | DNA Replication | Protein Synthesis
            Inheritance | Mendel's Laws | Sex-linked Traits | Pedigrees
            Biotechnology | Genetic Engineering | PCR and Gel Electrophoresis | Bioethics
        TRK-BIO-HUM | HUM | Human Physiology
            Nervous System | Neurons | The Brain | Reflexes
            Circulation | The Heart | Blood Vessels | Blood
            Immunity | Innate Immunity | Adaptive Immunity | Vaccines
            Endocrine System | Hormones | Glands
        """,
        sort_order=40,
        lessons_per_topic=4,
    ),
    _Subject(
        "SUBJ-ARAB12",
        "اللغة العربية: الصف الثاني عشر",
        "النحو والصرف والبلاغة والأدب العباسي والحديث.",
        "#8E24AA",
        _ORDERING,
        """
        TRK-ARAB12-NAHW | ARG12 | النحو والصرف
            الأسماء الخمسة | إعراب الأسماء الخمسة | شروط إعرابها | تطبيقات نحوية
            الممنوع من الصرف | العلم الممنوع من الصرف | الصفة الممنوعة من الصرف | منتهى الجموع
            أسلوب الشرط | أدوات الشرط الجازمة | أدوات الشرط غير الجازمة | اقتران الجواب بالفاء
            العدد | العدد المفرد | العدد المركب | ألفاظ العقود
        TRK-ARAB12-ADAB | ARL12 | الأدب والبلاغة
            الشعر العباسي | المتنبي | أبو تمام | البحتري
            البلاغة | التشبيه | الاستعارة | الكناية
            النثر الحديث | المقالة | القصة القصيرة | الرواية
            العروض | البحر الطويل | البحر الكامل | البحر البسيط
        """,
        sort_order=50,
        arabic=True,
        lessons_per_topic=4,
    ),
)

# Where editors departed from the defaults, by document name (column → value).
_TRACK_COLUMNS: dict[str, dict[str, object]] = {
    "TRK-MATH-ALG": {"is_linear": 0},
    "TRK-MATH-GEO": {
        "description": "The complete geometry course, sold separately.",
        "is_sold_separately": 1,
        "required_item": "DLC-GEOMETRY",
    },
    "TRK-MATH-OLY": {"required_item": "DLC-OLYMPIAD", "parent_item_required": 1},
    "TRK-PHYS-LAB": {"is_published": 0, "sort_order": 5},
    "TRK-STAT": {"sort_order": 15},
    "TRK-ASTRO": {
        "description": "An optional module with its own purchase.",
        "required_item": "DLC-ASTROPHYSICS",
    },
}
_UNIT_COLUMNS: dict[str, dict[str, object]] = {
    "UNIT-ALG-01": {"is_free_preview": 1},
    "UNIT-ALG-03": {"description": "حل المتباينات وتمثيلها على خط الأعداد."},
    "UNIT-PHY-05": {"is_published": 0},
    "UNIT-HUM-04": {"is_published": 0},
    "UNIT-HIS-01": {"sort_order": 20},
    "UNIT-HIS-02": {"sort_order": 10},
}
_ARABIC_UNITS = frozenset({"UNIT-ALG-03"})
"""Arabic-language units inside an English subject."""
_UNORDERED_TOPICS = frozenset({"TRK-ENG-SKILLS"})
"""Tracks whose topics were never ordered (sort_order 0 everywhere, so titles decide)."""

_SEASONS = (("2026-2027", "2026-2027"),)
_GRADES = (("GRADE-10", "Grade 10"), ("GRADE-11", "Grade 11"), ("GRADE-12", "Grade 12"))
_STREAMS = (("STREAM-SCI", "Scientific"), ("STREAM-LIT", "Literary"), ("STREAM-GEN", "General"))

# (name, title, grade, stream, published, subjects as (subject, sort_order) in idx order)
_PLANS: tuple[tuple[str, str, str, str, bool, tuple[tuple[str, int], ...]], ...] = (
    (
        "PLAN-G10-SCI",
        "Grade 10 Scientific",
        "GRADE-10",
        "STREAM-SCI",
        True,
        (("SUBJ-ENG", 40), ("SUBJ-MATH", 10), ("SUBJ-PHYS", 30), ("SUBJ-ARAB", 20)),
    ),
    (
        "PLAN-G10-LIT",
        "Grade 10 Literary",
        "GRADE-10",
        "STREAM-LIT",
        True,
        (
            ("SUBJ-ARAB", 10),
            ("SUBJ-MATH", 30),
            ("SUBJ-HIST", 20),
            ("SUBJ-ENG", 40),
            ("SUBJ-PHIL", 50),
        ),
    ),
    (
        "PLAN-G12-SCI",
        "Grade 12 Scientific",
        "GRADE-12",
        "STREAM-SCI",
        True,
        (
            ("SUBJ-MATH12", 10),
            ("SUBJ-PHYS12", 20),
            ("SUBJ-CHEM12", 30),
            ("SUBJ-BIO12", 40),
            ("SUBJ-ARAB12", 50),
            ("SUBJ-ENG", 60),
        ),
    ),
    (
        "PLAN-G11-GEN",
        "Grade 11 General (draft)",
        "GRADE-11",
        "STREAM-GEN",
        False,
        (("SUBJ-ARAB", 10), ("SUBJ-MATH", 20), ("SUBJ-ENG", 30)),
    ),
)

# (plan, target doctype, target name, action, value), in idx order per plan.
# "{lesson:TOPIC}" stands for the introduction lesson of that topic.
_OVERRIDES: tuple[tuple[str, Doctype, str, OverrideAction, str | None], ...] = (
    ("PLAN-G10-SCI", Doctype.UNIT, "UNIT-ENG-01", OverrideAction.SET_ACCESS_LEVEL, "public"),
    ("PLAN-G10-SCI", Doctype.TRACK, "TRK-MATH-ALG", OverrideAction.SET_LINEAR, "true"),
    ("PLAN-G10-LIT", Doctype.UNIT, "UNIT-ALG-04", OverrideAction.HIDE, None),
    ("PLAN-G10-LIT", Doctype.SUBJECT, "SUBJ-MATH", OverrideAction.RENAME, "General Mathematics"),
    ("PLAN-G10-LIT", Doctype.SUBJECT, "SUBJ-MATH", OverrideAction.SET_LINEAR, "0"),
    ("PLAN-G10-LIT", Doctype.LESSON, "{lesson:TOP-ALG-02-1}", OverrideAction.SET_FREE, None),
    ("PLAN-G12-SCI", Doctype.TRACK, "TRK-ASTRO", OverrideAction.SET_SOLD_SEPARATELY, "1"),
    ("PLAN-G12-SCI", Doctype.UNIT, "UNIT-ENG-03", OverrideAction.HIDE, None),
    ("PLAN-G12-SCI", Doctype.SUBJECT, "SUBJ-ENG", OverrideAction.RENAME, "English for Science"),
    ("PLAN-G12-SCI", Doctype.UNIT, "UNIT-CALC-01", OverrideAction.SET_LINEAR, "true"),
    ("PLAN-G12-SCI", Doctype.TOPIC, "TOP-STAT-01-1", OverrideAction.SET_FREE, None),
    ("PLAN-G12-SCI", Doctype.UNIT, "UNIT-HUM-03", OverrideAction.SET_ACCESS_LEVEL, "public"),
)

# Lesson templates in creation order, with the sort order an editor gave them later
# (the introduction was written after the worked examples, so names and order differ).
_LESSONS_EN = (
    (20, "{t}: worked examples"),
    (10, "Introduction to {t}"),
    (30, "{t}: practice set"),
    (40, "{t}: quick quiz"),
)
_LESSONS_AR = (
    (20, "{t}: أمثلة محلولة"),
    (10, "مدخل إلى {t}"),
    (30, "{t}: تدريبات"),
    (40, "{t}: اختبار قصير"),
)
# Stage types per lesson template (same positions as above).
_STAGE_PLANS = (
    (StageType.VIDEO, StageType.INTERACTIVE, StageType.QUESTION),
    (StageType.VIDEO, StageType.TEXT, StageType.QUESTION),
    (StageType.INTERACTIVE, StageType.QUESTION, StageType.TEXT),
    (StageType.QUESTION, StageType.QUESTION),
)
_STAGE_TITLES = {
    StageType.VIDEO: ("Watch", "شاهد"),
    StageType.QUESTION: ("Check your understanding", "تحقق من فهمك"),
    StageType.TEXT: ("Read", "اقرأ"),
    StageType.INTERACTIVE: ("Try it", "جرّب بنفسك"),
}
_STAGE_WEIGHTS = {
    StageType.VIDEO: 1.0,
    StageType.QUESTION: 2.0,
    StageType.TEXT: 0.5,
    StageType.INTERACTIVE: 1.5,
}
_UNPUBLISHED_LESSON_EVERY = 41
"""Every 41st lesson (counting from the 17th) is still a draft."""


# --- Building rows --------------------------------------------------------------------------


def _row(
    doctype: Doctype, name: str, idx: int = 0, parent: str | None = None, /, **values: object
) -> dict[str, object]:
    """A full row of a content table: standard columns, then every field (default if not given)."""
    row: dict[str, object] = {
        "name": name,
        "creation": DEMO_TIMESTAMP,
        "modified": DEMO_TIMESTAMP,
        "modified_by": DEMO_USER,
        "owner": DEMO_USER,
        "docstatus": 0,
        "idx": idx,
    }
    if doctype in CHILD_TABLES:
        parent_doctype, parentfield = CHILD_TABLES[doctype]
        row.update(parent=parent, parentfield=parentfield, parenttype=parent_doctype.value)
    for field in FIELDS[doctype]:
        value = values.pop(field.name, field.default)
        row[field.name] = int(bool(value)) if field.kind == "check" else value
    if values:
        raise ValueError(f"{doctype.table} has no columns {sorted(values)}")
    return row


def _image(folder: str, name: str) -> str:
    return f"{MEDIA_BASE_URL}/images/{folder}/{name}"


def _json(value: Mapping[str, object]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class _Builder:
    """Accumulates rows per doctype, numbering lessons and stages as Frappe's naming series do."""

    def __init__(self) -> None:
        self.rows: dict[Doctype, list[dict[str, object]]] = {doctype: [] for doctype in FIELDS}
        self.lessons = 0
        self.stages = 0
        self.intro_lesson: dict[str, str] = {}
        """Topic name → the name of its introduction lesson."""

    def subject(self, spec: _Subject) -> None:
        self.rows[Doctype.SUBJECT].append(
            _row(
                Doctype.SUBJECT,
                spec.name,
                title=spec.title,
                description=spec.description,
                image=_image("subjects", f"{spec.name.lower()}.png"),
                color_code=spec.color_code,
                sort_order=spec.sort_order,
                is_published=spec.is_published,
                is_public=spec.is_public,
                required_item=spec.required_item,
                is_linear=spec.is_linear,
            )
        )
        track: str | None = None
        code = ""
        tracks = units = 0
        for line in textwrap.dedent(spec.outline).strip().splitlines():
            parts = [part.strip() for part in line.split("|")]
            if not line.startswith(" "):
                track, code, title = parts
                tracks += 1
                units = 0
                columns: dict[str, object] = {
                    "title": title,
                    "parent_subject": spec.name,
                    "sort_order": tracks * 10,
                    "is_linear": 1,
                }
                columns |= _TRACK_COLUMNS.get(track, {})
                self.rows[Doctype.TRACK].append(_row(Doctype.TRACK, track, **columns))
            else:
                assert track is not None, f"{spec.name}: a unit before any track"
                units += 1
                self.unit(spec, track, f"UNIT-{code}-{units:02d}", units, parts)

    def unit(self, subject: _Subject, track: str, name: str, number: int, parts: list[str]) -> None:
        title, *topics = parts
        arabic = subject.arabic or name in _ARABIC_UNITS
        columns: dict[str, object] = {
            "title": title,
            "description": f"وحدة {title}." if arabic else f"The {title} unit.",
            "badge_image": _image("badges", f"{name.lower()}.png"),
            "sort_order": number * 10,
            "parent_track": track,
            "is_linear": 1,
        }
        columns |= _UNIT_COLUMNS.get(name, {})
        self.rows[Doctype.UNIT].append(_row(Doctype.UNIT, name, **columns))
        for position, topic in enumerate(topics, start=1):
            topic_name = f"{name.replace('UNIT-', 'TOP-', 1)}-{position}"
            self.rows[Doctype.TOPIC].append(
                _row(
                    Doctype.TOPIC,
                    topic_name,
                    title=topic,
                    sort_order=0 if track in _UNORDERED_TOPICS else position * 10,
                    parent_unit=name,
                    is_linear=1,
                )
            )
            first_in_track = number == 1 and position == 1
            self.lessons_for(subject, topic_name, topic, arabic, first_in_track)

    def lessons_for(
        self, subject: _Subject, topic_name: str, topic: str, arabic: bool, free: bool
    ) -> None:
        templates = (_LESSONS_AR if arabic else _LESSONS_EN)[: subject.lessons_per_topic]
        for position, (sort_order, template) in enumerate(templates):
            self.lessons += 1
            name = f"LES-{self.lessons:05d}"
            title = template.format(t=topic)
            intro = sort_order == 10
            if intro:
                self.intro_lesson[topic_name] = name
            description = f"درس {title} من موضوع {topic}." if arabic else f"{title}, step by step."
            self.rows[Doctype.LESSON].append(
                _row(
                    Doctype.LESSON,
                    name,
                    title=title,
                    description=description,
                    image=_image("lessons", f"{name.lower()}.png") if intro else None,
                    sort_order=sort_order,
                    parent_topic=topic_name,
                    is_published=self.lessons % _UNPUBLISHED_LESSON_EVERY != 17,
                    is_free_preview=free and intro,
                )
            )
            for idx, stage_type in enumerate(_STAGE_PLANS[position], start=1):
                self.stage(subject, name, idx, stage_type, topic, arabic)

    def stage(
        self, subject: _Subject, lesson: str, idx: int, kind: StageType, topic: str, arabic: bool
    ) -> None:
        self.stages += 1
        name = f"STG-{self.stages:06d}"
        target_time: int
        skippable = False
        config: dict[str, object]
        if kind is StageType.VIDEO:
            duration = 180 + (self.stages * 47) % 540
            config = {"video_url": f"{MEDIA_BASE_URL}/videos/{name}.mp4", "duration": duration}
            target_time, skippable = duration, self.stages % 5 == 0
        elif kind is StageType.QUESTION:
            config = _question(topic, arabic, self.stages)
            target_time = 90
        elif kind is StageType.TEXT:
            body = (
                f"في هذا الدرس نتعرّف إلى {topic}. اقرأ الملخّص ثم حاول حلّ الأمثلة قبل المتابعة."
                if arabic
                else f"In this lesson we look at {topic}. Read the summary, then try the "
                "examples before moving on."
            )
            config = {"body": body}
            target_time, skippable = 240, True
        else:
            widget, params = subject.widget
            config = {"widget": widget, "params": dict(params)}
            target_time = 300
        self.rows[Doctype.LESSON_STAGE].append(
            _row(
                Doctype.LESSON_STAGE,
                name,
                idx,
                lesson,
                title=_STAGE_TITLES[kind][1 if arabic else 0],
                type=kind.value,
                weight=_STAGE_WEIGHTS[kind],
                target_time=target_time,
                is_skippable=skippable,
                config=_json(config),
            )
        )


def _question(topic: str, arabic: bool, seed: int) -> dict[str, object]:
    if arabic:
        question = f"أيّ العبارات التالية صحيحة بشأن {topic}؟"
        correct = f"{topic} يُفهم من التعريفات والأمثلة في هذا الدرس"
        wrong = ["لا علاقة له بما سبق", "لا يُستخدم في النصوص", "كل ما سبق"]
    else:
        question = f"Which statement about {topic} is correct?"
        correct = f"{topic} follows from the definitions in this lesson"
        wrong = [
            "It never applies to real problems",
            "It only works for whole numbers",
            "None of the above",
        ]
    answer = seed % 4
    choices = [*wrong[:answer], correct, *wrong[answer:]]
    return {"question": question, "choices": choices, "answer": answer}


def _reference_rows(
    doctype: Doctype, items: tuple[tuple[str, str], ...]
) -> list[dict[str, object]]:
    return [_row(doctype, name, title=title) for name, title in items]


def demo_catalogue() -> Catalogue:
    """Build the demo catalogue's rows: pure and deterministic (same rows on every call)."""
    builder = _Builder()
    rows = builder.rows
    rows[Doctype.SEASON] = _reference_rows(Doctype.SEASON, _SEASONS)
    rows[Doctype.GRADE] = _reference_rows(Doctype.GRADE, _GRADES)
    rows[Doctype.STREAM] = _reference_rows(Doctype.STREAM, _STREAMS)
    for spec in _SUBJECTS:
        builder.subject(spec)

    plan_subjects = 0
    for name, title, grade, stream, published, subjects in _PLANS:
        rows[Doctype.PLAN].append(
            _row(
                Doctype.PLAN,
                name,
                title=title,
                season=_SEASONS[0][0],
                grade=grade,
                stream=stream,
                is_published=published,
            )
        )
        for idx, (subject, sort_order) in enumerate(subjects, start=1):
            plan_subjects += 1
            rows[Doctype.PLAN_SUBJECT].append(
                _row(
                    Doctype.PLAN_SUBJECT,
                    f"PS-{plan_subjects:04d}",
                    idx,
                    name,
                    subject=subject,
                    sort_order=sort_order,
                )
            )

    per_plan: dict[str, int] = {}
    for number, (plan, doctype, target, action, value) in enumerate(_OVERRIDES, start=1):
        per_plan[plan] = per_plan.get(plan, 0) + 1
        if target.startswith("{lesson:"):
            target = builder.intro_lesson[target.removeprefix("{lesson:").removesuffix("}")]
        rows[Doctype.PLAN_OVERRIDE].append(
            _row(
                Doctype.PLAN_OVERRIDE,
                f"PO-{number:04d}",
                per_plan[plan],
                plan,
                target_doctype=doctype.value,
                target_name=target,
                action=action.value,
                override_value=value,
            )
        )

    order = (
        Doctype.SEASON,
        Doctype.GRADE,
        Doctype.STREAM,
        Doctype.SUBJECT,
        Doctype.TRACK,
        Doctype.UNIT,
        Doctype.TOPIC,
        Doctype.LESSON,
        Doctype.LESSON_STAGE,
        Doctype.PLAN,
        Doctype.PLAN_SUBJECT,
        Doctype.PLAN_OVERRIDE,
    )
    tables: dict[str, tuple[Row, ...]] = {doctype.table: tuple(rows[doctype]) for doctype in order}
    tables[DELETED_DOCUMENT] = (_deleted_lesson(builder.lessons + 1),)
    return Catalogue(MappingProxyType(tables))


def _deleted_lesson(number: int) -> Row:
    """An editor deleted a lesson once: Frappe kept a copy in `tabDeleted Document`."""
    name = f"LES-{number:05d}"
    stamp = DEMO_TIMESTAMP.isoformat(sep=" ")
    data = {
        "doctype": Doctype.LESSON.value,
        "name": name,
        "title": "Slope: extra practice (old version)",
        "parent_topic": "TOP-ALG-01-2",
        "sort_order": 50,
        "is_published": 1,
        "is_free_preview": 0,
        "creation": stamp,
        "modified": stamp,
        "owner": DEMO_USER,
        "modified_by": DEMO_USER,
        "docstatus": 0,
        "idx": 0,
    }
    return {
        "name": "DEL-00001",
        "creation": DEMO_TIMESTAMP,
        "modified": DEMO_TIMESTAMP,
        "modified_by": DEMO_USER,
        "owner": DEMO_USER,
        "docstatus": 0,
        "idx": 0,
        "deleted_doctype": Doctype.LESSON.value,
        "deleted_name": name,
        "data": _json(data),
        "restored": 0,
    }


# --- Writing --------------------------------------------------------------------------------


def refuse_foreign_content(engine: sa.Engine) -> None:
    """Raise `ForeignContentError` unless every Frappe-layout (`tab…`) table in the database
    is one the demo seeds and holds only rows named as the demo names them.

    The demo recognises its own content by name, table by table: a fresh database, or one
    the demo seeded before, passes; a site database (any other `tab…` table, or a plan,
    lesson or other row the demo does not create) is refused before anything is written.
    """
    catalogue = demo_catalogue()
    metadata = content_metadata()
    present = set(sa.inspect(engine).get_table_names())
    foreign_tables = sorted(t for t in present if t.startswith("tab") and t not in metadata.tables)
    if foreign_tables:
        raise ForeignContentError(foreign_tables[0], [])
    with engine.connect() as connection:
        for table_name, rows in catalogue.tables.items():
            if table_name not in present:
                continue
            ours = {row["name"] for row in rows}
            names: list[object] = list(
                connection.scalars(sa.select(metadata.tables[table_name].c.name))
            )
            foreign = sorted(str(name) for name in names if name not in ours)
            if foreign:
                raise ForeignContentError(table_name, foreign)


def seed(engine: sa.Engine) -> SeedResult:
    """Create the content tables if missing and insert the demo rows not already there.

    Rows are matched by `name`: existing ones are left alone, so a second run inserts
    nothing. Inserts are batched (executemany) in one transaction.
    """
    metadata = content_metadata()
    metadata.create_all(engine)
    catalogue = demo_catalogue()
    inserted: dict[str, int] = {}
    with engine.begin() as connection:
        for table_name, rows in catalogue.tables.items():
            table = metadata.tables[table_name]
            existing: set[str] = set(connection.scalars(sa.select(table.c.name)))
            missing = [row for row in rows if row["name"] not in existing]
            for start in range(0, len(missing), _CHUNK):
                connection.execute(table.insert(), missing[start : start + _CHUNK])
            inserted[table_name] = len(missing)
    return SeedResult(MappingProxyType(inserted))
