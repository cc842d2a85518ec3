//! Session load: how hard one run was, as a single number the weekly and ACWR rules add up.

use serde::Serialize;

use crate::model::{Profile, Run, RunKind};

/// Which measure a session's load came from (best available first, domain.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadMethod {
    /// Session RPE x minutes (Foster 2001).
    Rpe,
    /// Banister's heart-rate TRIMP: needs the run's average HR and the profile's resting and
    /// max HR.
    HrTrimp,
    /// Minutes of running, when nothing better is known.
    Minutes,
}

/// A run's load and how it was measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SessionLoad {
    pub load: f64,
    pub method: LoadMethod,
}

/// RPE x minutes when the RPE is known, else HR TRIMP when heart rate and the profile's HR range
/// are known, else minutes.
pub fn session_load(run: &Run, profile: &Profile) -> SessionLoad {
    let minutes = run.moving_time_s.unwrap_or(run.duration_s) / 60.0;
    if let Some(rpe) = run.rpe {
        return SessionLoad {
            load: f64::from(rpe) * minutes,
            method: LoadMethod::Rpe,
        };
    }
    if let (Some(hr), Some(rest), Some(max)) =
        (run.avg_hr_bpm, profile.resting_hr_bpm, profile.max_hr_bpm)
        && max > rest
    {
        let reserve = ((hr - f64::from(rest)) / f64::from(max - rest)).clamp(0.0, 1.0);
        // Banister: minutes x HR reserve x 0.64 e^(1.92 x HR reserve) (the men's coefficient; the
        // profile does not ask for sex, and the women's 1.67 changes loads by under 15%).
        return SessionLoad {
            load: minutes * reserve * 0.64 * (1.92 * reserve).exp(),
            method: LoadMethod::HrTrimp,
        };
    }
    SessionLoad {
        load: minutes,
        method: LoadMethod::Minutes,
    }
}

/// Speed work: tempo, intervals and races.
pub fn is_speed_work(run: &Run) -> bool {
    matches!(run.kind, RunKind::Tempo | RunKind::Interval | RunKind::Race)
}

/// Hill work: a hills session, or a run climbing at least `m_per_km` metres per kilometre.
pub fn is_hill_work(run: &Run, m_per_km: f64) -> bool {
    run.kind == RunKind::Hills
        || (run.distance_m > 0.0
            && run
                .elevation_gain_m
                .is_some_and(|g| g / (run.distance_m / 1000.0) >= m_per_km))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use uuid::Uuid;

    fn run(minutes: f64) -> Run {
        Run::new(
            Uuid::nil(),
            DateTime::parse_from_rfc3339("2026-03-14T07:30:00+01:00").unwrap(),
            10_000.0,
            minutes * 60.0,
        )
    }

    #[test]
    fn rpe_first_then_trimp_then_minutes() {
        let mut p = Profile::default();
        let mut r = run(50.0);
        r.rpe = Some(4);
        r.avg_hr_bpm = Some(150.0);
        assert_eq!(
            session_load(&r, &p),
            SessionLoad {
                load: 200.0,
                method: LoadMethod::Rpe
            }
        );
        r.rpe = None;
        assert_eq!(
            session_load(&r, &p),
            SessionLoad {
                load: 50.0,
                method: LoadMethod::Minutes
            }
        );
        p.resting_hr_bpm = Some(50);
        p.max_hr_bpm = Some(190);
        // HR reserve (150-50)/140 = 0.714286; 50 x 0.714286 x 0.64 x e^(1.371429) = 90.0795
        let l = session_load(&r, &p);
        assert_eq!(l.method, LoadMethod::HrTrimp);
        assert!((l.load - 90.0795).abs() < 0.0001, "{}", l.load);
    }

    #[test]
    fn hill_work_by_kind_or_by_climb() {
        let mut r = run(40.0);
        assert!(!is_hill_work(&r, 20.0));
        r.elevation_gain_m = Some(199.0);
        assert!(!is_hill_work(&r, 20.0));
        r.elevation_gain_m = Some(200.0);
        assert!(is_hill_work(&r, 20.0));
        r.elevation_gain_m = None;
        r.kind = RunKind::Hills;
        assert!(is_hill_work(&r, 20.0));
        assert!(!is_speed_work(&r));
        r.kind = RunKind::Interval;
        assert!(is_speed_work(&r));
    }
}
