//! Strength and mobility plans from the seed's exercises: per likely pattern and for general
//! prevention, each exercise with its dose, target and a one-line cue, plus the pain-monitoring
//! rule for returning to running (Silbernagel et al. 2007).

use serde::{Deserialize, Serialize};

use crate::triage::{DISCLAIMER, PatternId};

/// One exercise of the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exercise {
    /// Stable id, used by `plan done`.
    pub id: &'static str,
    pub name: &'static str,
    pub sets: u8,
    /// Repetitions per set (per side where it is one-sided), or none for holds.
    pub reps: Option<u8>,
    /// Seconds per hold, for stretches and foam rolling.
    pub hold_s: Option<u16>,
    pub days_per_week: u8,
    pub target: &'static str,
    pub cue: &'static str,
}

// A table of constants reads best with one positional constructor.
#[allow(clippy::too_many_arguments)]
const fn ex(
    id: &'static str,
    name: &'static str,
    sets: u8,
    reps: Option<u8>,
    hold_s: Option<u16>,
    days_per_week: u8,
    target: &'static str,
    cue: &'static str,
) -> Exercise {
    Exercise {
        id,
        name,
        sets,
        reps,
        hold_s,
        days_per_week,
        target,
        cue,
    }
}

/// The seed's exercises ("Long-Term Corrective and Strengthening Strategies").
pub const CATALOGUE: &[Exercise] = &[
    ex(
        "clamshells",
        "Clamshells",
        3,
        Some(15),
        None,
        3,
        "gluteus medius and minimus",
        "Lie on your side, heels together, lift the top knee without rolling the pelvis back.",
    ),
    ex(
        "lateral_band_walks",
        "Lateral band walks",
        3,
        Some(12),
        None,
        3,
        "gluteus medius and minimus",
        "Band above the knees, half squat, step sideways keeping the knees pushed out.",
    ),
    ex(
        "single_leg_squats",
        "Single-leg squats",
        3,
        Some(8),
        None,
        3,
        "hip and thigh: gluteals and quadriceps",
        "Squat slowly on one leg to a comfortable depth, knee tracking over the second toe.",
    ),
    ex(
        "single_leg_deadlifts",
        "Single-leg deadlifts",
        3,
        Some(8),
        None,
        3,
        "hip and core stability, hamstrings",
        "Hinge at the hip on one leg, back flat, reaching the other leg straight behind.",
    ),
    ex(
        "calf_raises_straight_knee",
        "Single-leg calf raises, straight knee",
        3,
        Some(15),
        None,
        4,
        "gastrocnemius",
        "Rise onto the ball of one foot with the knee straight; lower slowly.",
    ),
    ex(
        "calf_raises_bent_knee",
        "Single-leg calf raises, bent knee",
        3,
        Some(15),
        None,
        4,
        "soleus",
        "Same rise with the knee bent about 30 degrees, to work the deep calf.",
    ),
    ex(
        "eccentric_heel_drops",
        "Eccentric heel drops",
        3,
        Some(15),
        None,
        7,
        "Achilles tendon and calf",
        "On a step, rise on both feet, then lower the heel slowly below the step on one foot.",
    ),
    ex(
        "foam_roll_quadriceps",
        "Foam rolling, quadriceps",
        1,
        None,
        Some(60),
        5,
        "quadriceps",
        "Roll the front of the thigh slowly from hip to above the knee, pausing on tender spots.",
    ),
    ex(
        "foam_roll_it_band",
        "Foam rolling, IT band",
        1,
        None,
        Some(60),
        5,
        "iliotibial band and outer thigh",
        "Roll the outside of the thigh from hip to above the knee; ease off if it is sharp.",
    ),
    ex(
        "hamstring_stretch",
        "Hamstring stretch",
        2,
        None,
        Some(30),
        5,
        "hamstrings",
        "Heel on a low step, leg straight, hinge forward from the hip until you feel a stretch.",
    ),
    ex(
        "calf_soleus_stretch",
        "Calf and soleus stretch",
        2,
        None,
        Some(30),
        5,
        "gastrocnemius and soleus",
        "Against a wall: back leg straight for the calf, then bent for the deep soleus.",
    ),
];

pub fn exercise(id: &str) -> Option<&'static Exercise> {
    CATALOGUE.iter().find(|e| e.id == id)
}

/// What a plan is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanFor {
    PatellofemoralPain,
    ItBandSyndrome,
    AchillesTendinopathy,
    MedialTibialStressSyndrome,
    Prevention,
}

impl PlanFor {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanFor::PatellofemoralPain => "patellofemoral_pain",
            PlanFor::ItBandSyndrome => "it_band_syndrome",
            PlanFor::AchillesTendinopathy => "achilles_tendinopathy",
            PlanFor::MedialTibialStressSyndrome => "medial_tibial_stress_syndrome",
            PlanFor::Prevention => "prevention",
        }
    }

    pub fn parse(s: &str) -> Option<PlanFor> {
        [
            PlanFor::PatellofemoralPain,
            PlanFor::ItBandSyndrome,
            PlanFor::AchillesTendinopathy,
            PlanFor::MedialTibialStressSyndrome,
            PlanFor::Prevention,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

impl From<Option<PatternId>> for PlanFor {
    fn from(p: Option<PatternId>) -> Self {
        match p {
            Some(PatternId::PatellofemoralPain) => PlanFor::PatellofemoralPain,
            Some(PatternId::ItBandSyndrome) => PlanFor::ItBandSyndrome,
            Some(PatternId::AchillesTendinopathy) => PlanFor::AchillesTendinopathy,
            Some(PatternId::MedialTibialStressSyndrome) => PlanFor::MedialTibialStressSyndrome,
            None => PlanFor::Prevention,
        }
    }
}

/// The exercises for a plan, from the seed: hip and gluteal strength for the knee patterns, the
/// calf complex and eccentric loading for the Achilles, calf and hip strength for the shin.
pub fn exercises_for(p: PlanFor) -> Vec<&'static Exercise> {
    let ids: &[&str] = match p {
        PlanFor::PatellofemoralPain => &[
            "clamshells",
            "lateral_band_walks",
            "single_leg_squats",
            "single_leg_deadlifts",
            "foam_roll_quadriceps",
            "hamstring_stretch",
        ],
        PlanFor::ItBandSyndrome => &[
            "clamshells",
            "lateral_band_walks",
            "single_leg_deadlifts",
            "foam_roll_it_band",
            "foam_roll_quadriceps",
            "hamstring_stretch",
        ],
        PlanFor::AchillesTendinopathy => &[
            "eccentric_heel_drops",
            "calf_raises_straight_knee",
            "calf_raises_bent_knee",
            "calf_soleus_stretch",
        ],
        PlanFor::MedialTibialStressSyndrome => &[
            "calf_raises_straight_knee",
            "calf_raises_bent_knee",
            "lateral_band_walks",
            "single_leg_deadlifts",
            "calf_soleus_stretch",
        ],
        PlanFor::Prevention => &[
            "clamshells",
            "single_leg_deadlifts",
            "calf_raises_straight_knee",
            "calf_raises_bent_knee",
            "hamstring_stretch",
            "calf_soleus_stretch",
        ],
    };
    ids.iter().filter_map(|id| exercise(id)).collect()
}

/// The pain-monitoring rule for returning to running.
pub const RETURN_TO_RUN: &str = "Return to running by the pain-monitoring rule (Silbernagel et al. 2007): pain during and after a run may reach 3 out of 10 at most, and must be no worse the next morning. If it is, go back a step (shorter, slower or flatter) until it settles. Start with short easy runs on flat ground and build by no more than 10% a week.";

pub fn disclaimer() -> &'static str {
    DISCLAIMER
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_plan_draws_on_the_catalogue_with_doses() {
        for p in [
            PlanFor::PatellofemoralPain,
            PlanFor::ItBandSyndrome,
            PlanFor::AchillesTendinopathy,
            PlanFor::MedialTibialStressSyndrome,
            PlanFor::Prevention,
        ] {
            let ex = exercises_for(p);
            assert!(ex.len() >= 4, "{p:?}");
            for e in ex {
                assert!(
                    e.reps.is_some() != e.hold_s.is_some(),
                    "{}: reps or a hold",
                    e.id
                );
                assert!(
                    e.sets > 0 && e.days_per_week > 0 && !e.cue.is_empty() && !e.target.is_empty()
                );
            }
            assert_eq!(PlanFor::parse(p.as_str()), Some(p));
        }
        let ids: Vec<&str> = exercises_for(PlanFor::AchillesTendinopathy)
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids[0], "eccentric_heel_drops");
        assert_eq!(exercise("calf_raises_bent_knee").unwrap().target, "soleus");
        assert!(RETURN_TO_RUN.contains("3 out of 10") && RETURN_TO_RUN.contains("next morning"));
    }
}
