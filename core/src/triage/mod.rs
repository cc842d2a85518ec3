//! Pain triage: from a runner's answers (and their own training data) to how urgent it is, which
//! common running patterns fit, what to do now, and what in their history may have led to it.
//!
//! The order of the rules is the safety story: red flags first and over everything; then the
//! 48-72 hour rule; unclear or mixed presentations are referred, never guessed. Strideguard is
//! not a diagnosis tool, and every result says so.

mod answers;
mod data;

use chrono::{DateTime, Duration, FixedOffset};
use serde::Serialize;

pub use answers::{
    Aggravator, AnswerError, Answers, Character, Location, RedFlag, RedFlags, Side, Timing,
};
pub use data::{DataNote, DataTopic, data_notes};

pub const DISCLAIMER: &str = "Strideguard is not a diagnosis tool: this is a guide to likely patterns and next steps, not a medical assessment. When in doubt, see a physiotherapist or sports medicine doctor.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    SelfCare,
    BookPhysio,
    SeeProfessionalNow,
}

impl Urgency {
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::SelfCare => "self_care",
            Urgency::BookPhysio => "book_physio",
            Urgency::SeeProfessionalNow => "see_professional_now",
        }
    }
}

/// The patterns Strideguard knows, by stable id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PatternId {
    PatellofemoralPain,
    ItBandSyndrome,
    AchillesTendinopathy,
    MedialTibialStressSyndrome,
}

impl PatternId {
    pub const ALL: [PatternId; 4] = [
        PatternId::PatellofemoralPain,
        PatternId::ItBandSyndrome,
        PatternId::AchillesTendinopathy,
        PatternId::MedialTibialStressSyndrome,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PatternId::PatellofemoralPain => "patellofemoral_pain",
            PatternId::ItBandSyndrome => "it_band_syndrome",
            PatternId::AchillesTendinopathy => "achilles_tendinopathy",
            PatternId::MedialTibialStressSyndrome => "medial_tibial_stress_syndrome",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PatternId::PatellofemoralPain => "Patellofemoral pain (runner's knee)",
            PatternId::ItBandSyndrome => "IT band syndrome",
            PatternId::AchillesTendinopathy => "Achilles tendinopathy",
            PatternId::MedialTibialStressSyndrome => "Medial tibial stress syndrome (shin splints)",
        }
    }
}

/// A finding that speaks for or against a pattern.
#[derive(Clone, Copy)]
enum Finding {
    C(Character),
    T(Timing),
    A(Aggravator),
    Swelling,
}

impl Finding {
    fn present(self, a: &Answers) -> bool {
        match self {
            Finding::C(c) => a.character.contains(&c),
            Finding::T(t) => a.timing.contains(&t),
            Finding::A(x) => a.aggravators.contains(&x),
            Finding::Swelling => a.swelling,
        }
    }

    fn describe(self) -> String {
        match self {
            Finding::C(c) => format!("{} pain", c.as_str().replace('_', " ")),
            Finding::T(t) => match t {
                Timing::Morning => "worse in the morning".into(),
                Timing::StartOfRunEases => "at the start of a run, easing as you go".into(),
                Timing::ConsistentPointInRun => "starts at a consistent point in a run".into(),
                Timing::AfterRun => "after running".into(),
                Timing::Lingering => "lingers after running".into(),
                Timing::AtRest => "hurts at rest".into(),
            },
            Finding::A(x) => format!("worse with {}", x.as_str().replace('_', " ")),
            Finding::Swelling => "swelling".into(),
        }
    }
}

struct Rule {
    id: PatternId,
    location: Location,
    location_text: &'static str,
    supports: &'static [Finding],
    against: &'static [Finding],
}

use Aggravator as Ag;
use Character as Ch;
use Finding::{A, C, Swelling, T};
use Timing as Ti;

/// From the seed document (domain.md, "Pain log and triage").
const RULES: [Rule; 4] = [
    Rule {
        id: PatternId::PatellofemoralPain,
        location: Location::KneeFront,
        location_text: "around or behind the kneecap",
        supports: &[
            C(Ch::DullAche),
            A(Ag::Stairs),
            A(Ag::Squatting),
            A(Ag::ProlongedSitting),
        ],
        against: &[C(Ch::Sharp), T(Ti::ConsistentPointInRun), Swelling],
    },
    Rule {
        id: PatternId::ItBandSyndrome,
        location: Location::KneeOuter,
        location_text: "on the outside of the knee",
        supports: &[
            C(Ch::Sharp),
            C(Ch::Burning),
            T(Ti::ConsistentPointInRun),
            A(Ag::Downhill),
        ],
        against: &[T(Ti::StartOfRunEases), Swelling, T(Ti::AtRest)],
    },
    Rule {
        id: PatternId::AchillesTendinopathy,
        location: Location::Achilles,
        location_text: "along the Achilles tendon, above the heel bone",
        supports: &[C(Ch::Stiffness), T(Ti::Morning), T(Ti::StartOfRunEases)],
        against: &[T(Ti::ConsistentPointInRun), A(Ag::Hopping), T(Ti::AtRest)],
    },
    Rule {
        id: PatternId::MedialTibialStressSyndrome,
        location: Location::ShinInner,
        location_text: "along the inner border of the shin",
        supports: &[
            C(Ch::DullAche),
            T(Ti::StartOfRunEases),
            T(Ti::AfterRun),
            T(Ti::Lingering),
        ],
        // Pain on hopping or at rest points at a bone stress injury: not for self-care.
        against: &[A(Ag::Hopping), T(Ti::AtRest), C(Ch::Sharp), Swelling],
    },
];

/// How well one pattern fits, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatternMatch {
    pub id: PatternId,
    pub name: &'static str,
    /// 3 for the location, +1 for each finding that fits, -1 for each against.
    pub score: i32,
    /// The findings that fit.
    pub fits: Vec<String>,
    /// The findings that argue against.
    pub against: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Triage {
    pub urgency: Urgency,
    /// Why this urgency, in one line.
    pub reason: String,
    pub red_flags: Vec<RedFlag>,
    /// Ranked, best fit first. Empty when a red flag overrides everything.
    pub patterns: Vec<PatternMatch>,
    /// The likely pattern, when one fits clearly.
    pub likely: Option<PatternId>,
    pub hours_since_onset: f64,
    /// What to do now.
    pub immediate_care: Vec<String>,
    /// What the runner's own training data shows before the pain began.
    pub your_data: Vec<DataNote>,
    pub disclaimer: &'static str,
}

impl Triage {
    /// The exercise plan that fits: the likely pattern's, or general prevention when none is
    /// clear; none at all after a red flag, when a professional must see it first.
    pub fn plan(&self) -> Option<crate::plan::PlanFor> {
        (self.urgency != Urgency::SeeProfessionalNow)
            .then(|| crate::plan::PlanFor::from(self.likely))
    }
}

/// The latest episode of a pain log (answers in the order they were logged): the last entry, and
/// the earlier ones for the same place and side that began within a week of it. When the last
/// entry does not say whether it is improving, the episode does: lower severity than at its
/// first entry is improving, otherwise not.
pub fn latest_episode(entries: &[&Answers]) -> Option<(Answers, usize)> {
    let last = (*entries.last()?).clone();
    let episode: Vec<&&Answers> = entries
        .iter()
        .filter(|a| {
            a.location == last.location
                && a.side == last.side
                && (last.onset - a.onset).num_days().abs() <= 7
        })
        .collect();
    let mut answers = last;
    if answers.improving.is_none() && episode.len() > 1 {
        answers.improving = Some(answers.severity < episode[0].severity);
    }
    Some((answers, episode.len()))
}

/// A likely pattern needs its location and more findings for it than against it, scoring at
/// least this much.
const LIKELY_SCORE: i32 = 4;

pub fn triage(a: &Answers, now: DateTime<FixedOffset>, notes: &[DataNote]) -> Triage {
    let hours = (now - a.onset).num_minutes() as f64 / 60.0;
    let red = a.red_flags.raised();
    if !red.is_empty() {
        let names: Vec<&str> = red.iter().map(|f| f.as_str()).collect();
        return Triage {
            urgency: Urgency::SeeProfessionalNow,
            reason: format!(
                "Red flag{}: {}. Stop running and see a doctor or physiotherapist now (for an inability to bear weight or a deformity: urgent care today).",
                if red.len() > 1 { "s" } else { "" },
                names.join(", ").replace('_', " ")
            ),
            red_flags: red,
            patterns: Vec::new(),
            likely: None,
            hours_since_onset: hours,
            immediate_care: vec![
                "Stop running and do not test the injury.".into(),
                "Keep weight off it and protect it until you have been seen.".into(),
            ],
            your_data: notes.to_vec(),
            disclaimer: DISCLAIMER,
        };
    }

    let mut patterns: Vec<PatternMatch> = RULES
        .iter()
        .filter(|r| r.location == a.location)
        .map(|r| {
            let fits: Vec<String> = std::iter::once(format!("pain {}", r.location_text))
                .chain(
                    r.supports
                        .iter()
                        .filter(|f| f.present(a))
                        .map(|f| f.describe()),
                )
                .collect();
            let against: Vec<String> = r
                .against
                .iter()
                .filter(|f| f.present(a))
                .map(|f| f.describe())
                .collect();
            PatternMatch {
                id: r.id,
                name: r.id.name(),
                score: 3 + fits.len() as i32 - 1 - against.len() as i32,
                fits,
                against,
            }
        })
        .collect();
    patterns.sort_by_key(|p| std::cmp::Reverse(p.score));
    let likely = patterns
        .first()
        .filter(|p| p.score >= LIKELY_SCORE && p.fits.len() - 1 > p.against.len())
        .map(|p| p.id);

    let onset_plus_72 = a.onset + Duration::hours(72);
    let (mut urgency, mut reason) = if hours >= 72.0 && a.improving != Some(true) {
        (
            Urgency::BookPhysio,
            format!(
                "{:.0} hours since it started without improvement: book a physiotherapist or sports medicine doctor.",
                hours
            ),
        )
    } else if hours >= 48.0 && a.improving != Some(true) {
        (
            Urgency::SelfCare,
            format!(
                "{:.0} hours since it started: keep to self-care, and book a physiotherapist or sports medicine doctor if it is not better by {}.",
                hours,
                onset_plus_72.format("%Y-%m-%d %H:%M")
            ),
        )
    } else if a.improving == Some(true) {
        (
            Urgency::SelfCare,
            "It is improving: keep to self-care and build back gradually.".to_string(),
        )
    } else {
        (
            Urgency::SelfCare,
            format!(
                "Self-care for now. If it is not improving within 48-72 hours (by {}), book a physiotherapist or sports medicine doctor.",
                onset_plus_72.format("%Y-%m-%d %H:%M")
            ),
        )
    };
    if likely.is_none() && urgency < Urgency::BookPhysio {
        urgency = Urgency::BookPhysio;
        reason = match patterns.first() {
            Some(p) if !p.against.is_empty() => format!(
                "The signs are mixed ({} fits partly, but: {}): rather than guess, book a physiotherapist or sports medicine doctor to look at it.",
                p.name,
                p.against.join(", ")
            ),
            _ => "This does not clearly match a common running pattern: rather than guess, book a physiotherapist or sports medicine doctor to look at it.".into(),
        };
    }

    let relevant: Vec<DataNote> = notes
        .iter()
        .filter(|n| n.topic.relevant_to(likely))
        .cloned()
        .collect();
    Triage {
        urgency,
        reason,
        red_flags: Vec::new(),
        patterns,
        likely,
        hours_since_onset: hours,
        immediate_care: immediate_care(a),
        your_data: relevant,
        disclaimer: DISCLAIMER,
    }
}

/// The seed's first steps: modify activity, RICE, pain-free cross-training.
fn immediate_care(a: &Answers) -> Vec<String> {
    let mut v = vec![
        "Modify activity: stop or cut back running so the irritation can settle; avoid what provokes the pain.".to_string(),
        "Rest: a temporary break from running halts the cycle of repetitive strain.".to_string(),
        "Ice: 15 to 20 minutes, several times a day, for acute pain.".to_string(),
        "Compression: a bandage helps limit swelling.".to_string(),
    ];
    let elevate = if matches!(
        a.location,
        Location::Ankle | Location::Achilles | Location::Foot | Location::Heel
    ) {
        "Elevation: raise the leg above the level of the heart, especially for the ankle, to help fluid drain."
    } else {
        "Elevation: raise the leg above the level of the heart to help fluid drain."
    };
    v.push(elevate.to_string());
    v.push(
        "Keep fit with pain-free, low-impact cross-training such as swimming or cycling."
            .to_string(),
    );
    v
}

#[cfg(test)]
mod tests;
