//! The pain questions and their answers. The names are a contract: CLI flags, the JSON answers
//! file and the phone apps all use exactly these.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

macro_rules! answer_enum {
    ($(#[$m:meta])* $name:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        // Through `FromStr`, so a JSON answers file is refused in the same words as a flag.
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(|e| match e {
                    AnswerError::Unknown { given, expected, .. } => serde::de::Error::custom(
                        format!("unknown answer '{given}': expected one of {expected}"),
                    ),
                    other => serde::de::Error::custom(other),
                })
            }
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = AnswerError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let t = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
                $name::ALL.iter().copied().find(|v| v.as_str() == t).ok_or_else(|| AnswerError::Unknown {
                    field: $what,
                    given: s.to_string(),
                    expected: $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", "),
                })
            }
        }
    };
}

answer_enum!(
    /// Where it hurts.
    Location, "location", {
    KneeFront => "knee_front",
    KneeOuter => "knee_outer",
    KneeInner => "knee_inner",
    KneeBack => "knee_back",
    Achilles => "achilles",
    Heel => "heel",
    ShinInner => "shin_inner",
    ShinOuter => "shin_outer",
    Ankle => "ankle",
    Foot => "foot",
    Hip => "hip",
    Other => "other",
});

answer_enum!(Side, "side", { Left => "left", Right => "right", Both => "both" });

answer_enum!(Character, "character", {
    DullAche => "dull_ache",
    Sharp => "sharp",
    Burning => "burning",
    Stiffness => "stiffness",
    Throbbing => "throbbing",
});

answer_enum!(Timing, "timing", {
    Morning => "morning",
    StartOfRunEases => "start_of_run_eases",
    ConsistentPointInRun => "consistent_point_in_run",
    AfterRun => "after_run",
    Lingering => "lingering",
    AtRest => "at_rest",
});

answer_enum!(Aggravator, "aggravators", {
    Stairs => "stairs",
    Squatting => "squatting",
    ProlongedSitting => "prolonged_sitting",
    Downhill => "downhill",
    Uphill => "uphill",
    Hopping => "hopping",
});

answer_enum!(
    /// The red-flag questions: any "yes" means see a professional now.
    RedFlag, "red_flags", {
    CannotBearWeight => "cannot_bear_weight",
    Deformity => "deformity",
    NumbnessOrShootingPain => "numbness_or_shooting_pain",
    SevereUnrelenting => "severe_unrelenting",
});

/// The red-flag answers, each yes or no (absent means no).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedFlags {
    pub cannot_bear_weight: bool,
    pub deformity: bool,
    pub numbness_or_shooting_pain: bool,
    pub severe_unrelenting: bool,
}

impl RedFlags {
    pub fn set(&mut self, flag: RedFlag) {
        match flag {
            RedFlag::CannotBearWeight => self.cannot_bear_weight = true,
            RedFlag::Deformity => self.deformity = true,
            RedFlag::NumbnessOrShootingPain => self.numbness_or_shooting_pain = true,
            RedFlag::SevereUnrelenting => self.severe_unrelenting = true,
        }
    }

    /// The flags answered yes.
    pub fn raised(&self) -> Vec<RedFlag> {
        [
            (self.cannot_bear_weight, RedFlag::CannotBearWeight),
            (self.deformity, RedFlag::Deformity),
            (
                self.numbness_or_shooting_pain,
                RedFlag::NumbnessOrShootingPain,
            ),
            (self.severe_unrelenting, RedFlag::SevereUnrelenting),
        ]
        .into_iter()
        .filter_map(|(yes, f)| yes.then_some(f))
        .collect()
    }
}

/// One set of answers: a pain log entry, or the stateless check of `triage --answers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answers {
    pub location: Location,
    pub side: Side,
    /// 0 (none) to 10 (worst imaginable).
    pub severity: u8,
    #[serde(default)]
    pub character: Vec<Character>,
    #[serde(default)]
    pub timing: Vec<Timing>,
    #[serde(default)]
    pub aggravators: Vec<Aggravator>,
    #[serde(default)]
    pub swelling: bool,
    #[serde(default)]
    pub red_flags: RedFlags,
    /// When it started (RFC 3339).
    pub onset: DateTime<FixedOffset>,
    /// Getting better since it started: yes, no, or not known.
    #[serde(default)]
    pub improving: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnswerError {
    #[error("{field}: unknown answer '{given}': expected one of {expected}")]
    Unknown {
        field: &'static str,
        given: String,
        expected: String,
    },
    #[error(transparent)]
    Severity(#[from] crate::ranges::OutOfRange),
    #[error("{path}: {reason}")]
    Json { path: String, reason: String },
}

impl Answers {
    /// Checks what the types cannot: the severity range.
    pub fn validate(&self) -> Result<(), AnswerError> {
        crate::ranges::PAIN_SEVERITY.check(self.severity)?;
        Ok(())
    }

    /// Reads answers from JSON, naming the field that is wrong.
    pub fn from_json(text: &str) -> Result<Answers, AnswerError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let answers: Answers = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let reason = e.into_inner().to_string();
            // The path already says where: drop serde's "at line 1 column 19".
            let reason = match reason.rfind(" at line ") {
                Some(i) if reason[i..].contains(" column ") => reason[..i].to_string(),
                _ => reason,
            };
            AnswerError::Json {
                path: if path == "." { "answers".into() } else { path },
                reason,
            }
        })?;
        answers.validate()?;
        Ok(answers)
    }
}
