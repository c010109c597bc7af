"""Deterministic, realistic content for `catalogue.build_catalogue(seed=…)`: titles in Arabic
(every third subject) or English, and stage configs of every type, a few hundred bytes each."""

from __future__ import annotations

import random

from memora_cdn.core.model import StageType

__all__ = ["CatalogueText"]

_SUBJECTS_EN = (
    "Mathematics",
    "Physics",
    "Chemistry",
    "Biology",
    "History",
    "Geography",
    "English",
    "Computer Science",
    "Economics",
    "Art",
)
_SUBJECTS_AR = (
    "الرياضيات",
    "الفيزياء",
    "الكيمياء",
    "الأحياء",
    "التاريخ",
    "الجغرافيا",
    "اللغة العربية",
    "التربية الإسلامية",
    "الاقتصاد",
    "الفنون",
)
_WORDS_EN = [
    "energy",
    "motion",
    "fractions",
    "equations",
    "cells",
    "atoms",
    "rivers",
    "empires",
    "algebra",
    "vectors",
    "forces",
    "waves",
    "light",
    "sound",
    "trade",
    "maps",
    "climate",
    "poetry",
    "grammar",
    "functions",
    "graphs",
    "probability",
    "matter",
    "reactions",
    "genes",
    "ecosystems",
    "history",
    "culture",
    "numbers",
    "patterns",
    "shapes",
]
_WORDS_AR = [
    "الطاقة",
    "الحركة",
    "الكسور",
    "المعادلات",
    "الخلايا",
    "الذرات",
    "الأنهار",
    "الحضارات",
    "الجبر",
    "المتجهات",
    "القوى",
    "الموجات",
    "الضوء",
    "الصوت",
    "التجارة",
    "الخرائط",
    "المناخ",
    "الشعر",
    "النحو",
    "الدوال",
    "الرسوم",
    "الاحتمالات",
    "المادة",
    "التفاعلات",
    "الجينات",
    "البيئة",
    "الثقافة",
    "الأعداد",
    "الأنماط",
    "الأشكال",
]
_MEDIA = "https://media.memora.example"
_TYPES = (StageType.VIDEO, StageType.TEXT, StageType.QUESTION, StageType.INTERACTIVE)


class CatalogueText:
    """Titles and stage configs drawn from one seeded `random.Random`."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.arabic = False

    def start_subject(self, number: int) -> None:
        """Subjects 1, 4, 7, … are in Arabic, with everything under them."""
        self.arabic = number % 3 == 1

    def _words(self, count: int) -> str:
        return " ".join(self.rng.choices(_WORDS_AR if self.arabic else _WORDS_EN, k=count))

    def plan_title(self, number: int) -> str:
        return f"Academic plan {number} / الخطة الدراسية {number}"

    def subject(self, number: int) -> str:
        names = _SUBJECTS_AR if self.arabic else _SUBJECTS_EN
        return f"{names[(number - 1) % len(names)]} {number}"

    def track(self, number: int) -> str:
        return f"المسار {number}" if self.arabic else f"Track {number}"

    def unit(self, number: int) -> str:
        label = "الوحدة" if self.arabic else "Unit"
        return f"{label} {number}: {self._words(2)}"

    def topic(self, number: int) -> str:
        label = "الموضوع" if self.arabic else "Topic"
        return f"{label} {number}: {self._words(2)}"

    def lesson(self, number: int) -> str:
        label = "الدرس" if self.arabic else "Lesson"
        return f"{label} {number}: {self._words(3)}"

    def description(self) -> str:
        return self._words(self.rng.randint(16, 32))

    def stage_title(self, number: int) -> str:
        return f"المرحلة {number}" if self.arabic else f"Stage {number}"

    def stage(self, lesson: str, number: int) -> tuple[StageType, dict[str, object]]:
        """A stage's type and config (about 300–700 bytes of JSON)."""
        kind = self.rng.choice(_TYPES)
        rng = self.rng
        if kind is StageType.VIDEO:
            config: dict[str, object] = {
                "video_url": f"{_MEDIA}/video/{lesson}/{number}.mp4",
                "poster": f"{_MEDIA}/images/{lesson}/{number}.jpg",
                "duration_seconds": rng.randint(60, 900),
                "transcript": self._words(rng.randint(2, 16)),
                "captions": [
                    {"lang": "ar", "url": f"{_MEDIA}/captions/{lesson}/{number}.ar.vtt"},
                    {"lang": "en", "url": f"{_MEDIA}/captions/{lesson}/{number}.en.vtt"},
                ],
            }
        elif kind is StageType.TEXT:
            config = {"format": "markdown", "body": self._words(rng.randint(34, 66))}
        elif kind is StageType.QUESTION:
            options = [self._words(rng.randint(2, 4)) for _ in range(4)]
            config = {
                "prompt": self._words(rng.randint(10, 18)) + "?",
                "options": options,
                "answer": rng.randrange(4),
                "explanation": self._words(rng.randint(16, 30)),
            }
        else:
            config = {
                "widget": rng.choice(["drag-and-drop", "matching", "ordering", "slider"]),
                "items": [self._words(2) for _ in range(rng.randint(5, 8))],
                "instructions": self._words(rng.randint(12, 24)),
            }
        return kind, config
