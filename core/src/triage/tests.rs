//! Vignettes: a runner's answers in, the triage a physiotherapist would agree with out.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate};
use uuid::Uuid;

use super::*;
use crate::model::{Profile, Run, RunKind};

fn t(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

fn now() -> DateTime<FixedOffset> {
    t("2026-03-20T18:00:00+01:00")
}

fn answers(location: Location) -> Answers {
    Answers {
        location,
        side: Side::Left,
        severity: 4,
        character: vec![],
        timing: vec![],
        aggravators: vec![],
        swelling: false,
        red_flags: RedFlags::default(),
        onset: now() - Duration::hours(24),
        improving: None,
    }
}

fn pfp() -> Answers {
    Answers {
        character: vec![Character::DullAche],
        aggravators: vec![Aggravator::Stairs, Aggravator::Squatting],
        ..answers(Location::KneeFront)
    }
}

fn itbs() -> Answers {
    Answers {
        character: vec![Character::Sharp],
        timing: vec![Timing::ConsistentPointInRun],
        aggravators: vec![Aggravator::Downhill],
        ..answers(Location::KneeOuter)
    }
}

fn achilles() -> Answers {
    Answers {
        character: vec![Character::Stiffness],
        timing: vec![Timing::Morning, Timing::StartOfRunEases],
        ..answers(Location::Achilles)
    }
}

fn mtss() -> Answers {
    Answers {
        character: vec![Character::DullAche],
        timing: vec![Timing::StartOfRunEases, Timing::AfterRun],
        ..answers(Location::ShinInner)
    }
}

fn vignettes() -> [(Answers, PatternId); 4] {
    [
        (pfp(), PatternId::PatellofemoralPain),
        (itbs(), PatternId::ItBandSyndrome),
        (achilles(), PatternId::AchillesTendinopathy),
        (mtss(), PatternId::MedialTibialStressSyndrome),
    ]
}

#[test]
fn each_pattern_is_recognised_from_its_vignette() {
    for (a, id) in vignettes() {
        let r = triage(&a, now(), &[]);
        assert_eq!(r.likely, Some(id), "{id:?}");
        assert_eq!(r.urgency, Urgency::SelfCare);
        let top = &r.patterns[0];
        assert_eq!(top.id, id);
        assert!(top.score >= 5, "{id:?}: {}", top.score);
        assert!(top.fits.len() >= 3 && top.against.is_empty(), "{top:?}");
        assert_eq!(r.disclaimer, DISCLAIMER);
        assert!(
            r.immediate_care
                .iter()
                .any(|c| c.contains("15 to 20 minutes"))
        );
        assert!(
            r.immediate_care
                .iter()
                .any(|c| c.contains("swimming or cycling"))
        );
    }
    let r = triage(&itbs(), now(), &[]);
    assert!(
        r.patterns[0]
            .fits
            .contains(&"worse with downhill".to_string()),
        "{:?}",
        r.patterns[0].fits
    );
    // Ankle-side pain gets the ankle elevation advice.
    assert!(
        triage(&achilles(), now(), &[])
            .immediate_care
            .iter()
            .any(|c| c.contains("especially for the ankle"))
    );
}

#[test]
fn every_red_flag_alone_overrides_every_pattern() {
    for flag in RedFlag::ALL {
        for (mut a, _) in vignettes() {
            a.red_flags.set(*flag);
            let r = triage(&a, now(), &[]);
            assert_eq!(r.urgency, Urgency::SeeProfessionalNow, "{flag:?}");
            assert_eq!(r.red_flags, [*flag]);
            assert!(r.patterns.is_empty() && r.likely.is_none());
            assert!(
                r.reason.contains(&flag.as_str().replace('_', " ")),
                "{}",
                r.reason
            );
            assert!(r.immediate_care[0].contains("Stop running"));
        }
    }
}

#[test]
fn mixed_and_unknown_presentations_are_referred_not_guessed() {
    // Front-of-knee pain with IT-band features and swelling: mixed.
    let mixed = Answers {
        character: vec![Character::Sharp],
        timing: vec![Timing::ConsistentPointInRun],
        swelling: true,
        ..answers(Location::KneeFront)
    };
    let r = triage(&mixed, now(), &[]);
    assert_eq!(r.urgency, Urgency::BookPhysio);
    assert_eq!(r.likely, None);
    assert!(r.reason.contains("mixed"), "{}", r.reason);
    assert_eq!(r.patterns[0].against.len(), 3);
    // Shin pain on hopping and at rest: not shin splints to self-treat (bone stress).
    let bone = Answers {
        timing: vec![Timing::AtRest],
        aggravators: vec![Aggravator::Hopping],
        ..mtss()
    };
    let r = triage(&bone, now(), &[]);
    assert_eq!(r.urgency, Urgency::BookPhysio, "{:?}", r.patterns);
    // Places no pattern covers: referred.
    for loc in [
        Location::Hip,
        Location::Heel,
        Location::Other,
        Location::KneeBack,
        Location::Foot,
    ] {
        let r = triage(&answers(loc), now(), &[]);
        assert_eq!(r.urgency, Urgency::BookPhysio, "{loc:?}");
        assert!(r.patterns.is_empty());
        assert!(r.reason.contains("does not clearly match"));
    }
    // The right place but nothing else that fits: not enough to name a pattern.
    let r = triage(&answers(Location::KneeOuter), now(), &[]);
    assert_eq!((r.urgency, r.likely), (Urgency::BookPhysio, None));
}

#[test]
fn the_48_to_72_hour_rule_on_both_sides_of_each_boundary() {
    let at = |hours: f64, improving: Option<bool>| {
        let a = Answers {
            onset: now() - Duration::minutes((hours * 60.0) as i64),
            improving,
            ..pfp()
        };
        triage(&a, now(), &[])
    };
    let r = at(47.9, None);
    assert_eq!(r.urgency, Urgency::SelfCare);
    assert!(r.reason.contains("within 48-72 hours"), "{}", r.reason);
    let r = at(48.0, None);
    assert_eq!(r.urgency, Urgency::SelfCare);
    // Onset 2026-03-18 18:00 + 72 h.
    assert!(
        r.reason.contains("if it is not better by 2026-03-21 18:00"),
        "{}",
        r.reason
    );
    assert_eq!(at(71.9, Some(false)).urgency, Urgency::SelfCare);
    let r = at(72.0, None);
    assert_eq!(r.urgency, Urgency::BookPhysio);
    assert!(
        r.reason
            .contains("72 hours since it started without improvement"),
        "{}",
        r.reason
    );
    assert_eq!(at(72.0, Some(false)).urgency, Urgency::BookPhysio);
    assert_eq!(at(200.0, Some(true)).urgency, Urgency::SelfCare);
    assert!((at(72.0, None).hours_since_onset - 72.0).abs() < 1e-9);
}

fn run(date: &str, km: f64, down_m: f64) -> Run {
    let start = DateTime::parse_from_rfc3339(&format!("{date}T08:00:00+01:00")).unwrap();
    let mut r = Run::new(Uuid::new_v4(), start, km * 1000.0, km * 360.0);
    r.elevation_gain_m = Some(down_m);
    r.elevation_loss_m = Some(down_m);
    r.kind = RunKind::Easy;
    r
}

#[test]
fn outer_knee_pain_after_a_week_of_long_downhill_runs_names_them() {
    let profile = Profile {
        time_zone: "Europe/Berlin".into(),
        ..Profile::default()
    };
    let mut runs: Vec<Run> = (1..=28)
        .step_by(3)
        .map(|d| run(&format!("2026-02-{d:02}"), 8.0, 20.0))
        .collect();
    // The week before the pain: three long runs with 300+ m of descent each.
    runs.push(run("2026-03-14", 16.0, 320.0));
    runs.push(run("2026-03-16", 14.0, 300.0));
    runs.push(run("2026-03-18", 18.0, 380.0));
    let notes = data_notes(
        &runs,
        &[],
        &profile,
        NaiveDate::from_ymd_opt(2026, 3, 19).unwrap(),
    );
    let r = triage(&itbs(), now(), &notes);
    assert_eq!(r.likely, Some(PatternId::ItBandSyndrome));
    let downhill = r
        .your_data
        .iter()
        .find(|n| n.topic == DataTopic::Downhill)
        .expect("downhill named");
    assert!(
        downhill.text.starts_with("3 runs with long descents"),
        "{}",
        downhill.text
    );
    assert!(
        downhill
            .text
            .contains("2026-03-18 (380 m down over 18.00 km)"),
        "{}",
        downhill.text
    );
    // The same history next to Achilles pain shows the load, not the descents.
    let r = triage(&achilles(), now(), &notes);
    assert!(r.your_data.iter().all(|n| n.topic != DataTopic::Downhill));
    assert!(
        r.your_data.iter().any(|n| n.topic == DataTopic::LoadSpike),
        "{:?}",
        r.your_data
    );
}

#[test]
fn bad_answers_name_the_field() {
    let good = r#"{"location": "knee_outer", "side": "left", "severity": 5,
        "character": ["sharp"], "timing": ["consistent_point_in_run"], "aggravators": ["downhill"],
        "swelling": false, "red_flags": {"cannot_bear_weight": false}, "onset": "2026-03-19T18:00:00+01:00",
        "improving": null}"#;
    let a = Answers::from_json(good).unwrap();
    assert_eq!(a.location, Location::KneeOuter);
    assert_eq!(a.improving, None);
    let cases = [
        (
            good.replace("knee_outer", "kneecap"),
            "location: unknown answer 'kneecap': expected one of knee_front, knee_outer, knee_inner, knee_back, achilles, heel, shin_inner, shin_outer, ankle, foot, hip, other",
        ),
        (
            good.replace("\"severity\": 5", "\"severity\": 11"),
            "severity: 11 is outside 0-10",
        ),
        (
            good.replace("\"sharp\"", "\"stabbing\""),
            "character[0]: unknown answer 'stabbing': expected one of dull_ache, sharp, burning, stiffness, throbbing",
        ),
        (
            good.replace("cannot_bear_weight", "cant_walk"),
            "red_flags.cant_walk: unknown field `cant_walk`",
        ),
        (
            good.replace("2026-03-19T18:00:00+01:00", "yesterday"),
            "onset:",
        ),
        (
            good.replace("\"side\": \"left\",", ""),
            "missing field `side`",
        ),
        (good[..40].to_string(), "EOF"),
    ];
    for (json, expected) in cases {
        let err = Answers::from_json(&json).unwrap_err().to_string();
        assert!(err.contains(expected), "expected {expected:?} in {err:?}");
        assert!(!err.contains(" at line "), "the path says where: {err}");
    }
    assert_eq!(
        "kneecap".parse::<Location>().unwrap_err().to_string(),
        "location: unknown answer 'kneecap': expected one of knee_front, knee_outer, knee_inner, knee_back, achilles, heel, shin_inner, shin_outer, ankle, foot, hip, other"
    );
    assert_eq!(
        "Knee-Front".parse::<Location>().unwrap(),
        Location::KneeFront
    );
}

#[test]
fn the_latest_episode_says_whether_it_is_improving() {
    let first = Answers {
        severity: 6,
        ..itbs()
    };
    let other_place = achilles();
    let later = Answers {
        severity: 3,
        ..itbs()
    };
    let (a, n) = latest_episode(&[&first, &other_place, &later]).unwrap();
    assert_eq!((n, a.improving, a.severity), (2, Some(true), 3));
    let worse = Answers {
        severity: 7,
        ..itbs()
    };
    assert_eq!(
        latest_episode(&[&first, &worse]).unwrap().0.improving,
        Some(false)
    );
    // The runner's own answer wins.
    let said = Answers {
        improving: Some(true),
        ..worse.clone()
    };
    assert_eq!(
        latest_episode(&[&first, &said]).unwrap().0.improving,
        Some(true)
    );
    // A single entry: not known.
    assert_eq!(latest_episode(&[&worse]).unwrap().0.improving, None);
    assert!(latest_episode(&[]).is_none());
}
