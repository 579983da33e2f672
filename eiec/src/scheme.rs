//! The criteria and class tables together: scoring, classifying, deriving.

use crate::Error;
use crate::assessment::{self, Assessment, AssessmentResult, CriterionScore};
use crate::building::BuildingType;
use crate::classes::{ClassScale, ClassTables};
use crate::criteria::{CriteriaCatalogue, CriteriaSet};
use crate::derive::{self, Derivation, MeasuredData};
use crate::synoptic::Synoptic;

/// Criteria plus class tables: what an assessment is scored against.
///
/// ```
/// use eiec::{Assessment, BuildingType, ClassScale, Scheme};
/// let scheme = Scheme::builtin()?;
/// let a = Assessment::from_level_list(
///     BuildingType::Commercial,
///     "load-profile=4,lighting=4,hvac=4,metering-supply=4,power-factor=4,motors=4,wiring=4,renewable=4,transformers=4",
/// )?;
/// let six = scheme.assess(&a, ClassScale::Six)?;
/// assert_eq!((six.total, six.class.to_string()), (36, "EIEC3".to_string()));
/// let next = six.next.as_ref().unwrap();
/// assert_eq!((next.class.to_string(), next.points_missing), ("EIEC4".to_string(), 12));
/// # Ok::<(), eiec::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Scheme {
    criteria: CriteriaCatalogue,
    classes: ClassTables,
}

impl Scheme {
    /// The built-in criteria and class tables.
    ///
    /// ```
    /// let scheme = eiec::Scheme::builtin()?;
    /// assert_eq!(scheme.criteria().sets().len(), 2);
    /// # Ok::<(), eiec::Error>(())
    /// ```
    pub fn builtin() -> Result<Self, Error> {
        Ok(Scheme {
            criteria: CriteriaCatalogue::builtin()?,
            classes: ClassTables::builtin()?,
        })
    }

    /// Any criteria and class tables (for example a caller's files).
    ///
    /// ```
    /// use eiec::{ClassTables, CriteriaCatalogue, Scheme};
    /// let scheme = Scheme::new(CriteriaCatalogue::builtin()?, ClassTables::builtin()?);
    /// # Ok::<(), eiec::Error>(())
    /// ```
    pub fn new(criteria: CriteriaCatalogue, classes: ClassTables) -> Self {
        Scheme { criteria, classes }
    }

    /// The criteria.
    pub fn criteria(&self) -> &CriteriaCatalogue {
        &self.criteria
    }

    /// The class tables.
    pub fn classes(&self) -> &ClassTables {
        &self.classes
    }

    /// The criteria set an assessment uses.
    pub fn set_for(&self, assessment: &Assessment) -> Result<&CriteriaSet, Error> {
        self.criteria
            .set_for(assessment.building, assessment.edition.as_deref())
    }

    /// Validate and score an assessment without classifying it (no class table needed).
    /// Errors name the criterion: unknown id, id of another building type's set, level
    /// above 4.
    ///
    /// ```
    /// use eiec::{Assessment, BuildingType, Error, Scheme};
    /// let scheme = Scheme::builtin()?;
    /// let a = Assessment::from_level_list(BuildingType::Residential, "motors=2")?;
    /// assert!(matches!(scheme.score(&a), Err(Error::WrongBuildingType { .. })));
    /// # Ok::<(), eiec::Error>(())
    /// ```
    pub fn score(&self, assessment: &Assessment) -> Result<Vec<CriterionScore>, Error> {
        let set = self.set_for(assessment)?;
        assessment::score(assessment, set, |id| {
            self.criteria
                .check_id(assessment.building, Some(&set.edition), id)
                .map(|_| ())
        })
    }

    /// Score and classify an assessment with the five- or six-class table of its edition and
    /// building type.
    ///
    /// ```
    /// use eiec::{Assessment, BuildingType, ClassScale, Scheme};
    /// let a = Assessment::new(BuildingType::Infrastructure);
    /// let r = Scheme::builtin()?.assess(&a, ClassScale::Five)?;
    /// assert_eq!((r.total, r.class.to_string(), r.classes), (0, "EIEC0".to_string(), 5));
    /// # Ok::<(), eiec::Error>(())
    /// ```
    pub fn assess(
        &self,
        assessment: &Assessment,
        scale: ClassScale,
    ) -> Result<AssessmentResult, Error> {
        let set = self.set_for(assessment)?;
        let scores = self.score(assessment)?;
        let table = self
            .classes
            .table_for(&set.edition, assessment.building, scale)?;
        Ok(assessment::classify(
            assessment,
            &set.edition,
            set,
            scores,
            table,
        ))
    }

    /// Derive what the measured data allows for the building type's derivable criteria (see
    /// [`crate::derive`]).
    ///
    /// ```
    /// use eiec::{BuildingType, MeasuredData, MeteredDevice, PowerFactorData, Scheme};
    /// let data = MeasuredData {
    ///     annual_consumption_kwh: 100.0,
    ///     devices: vec![MeteredDevice { name: "a".into(), annual_kwh: 80.0, load_profile: true }],
    ///     power_factor: Some(PowerFactorData::Samples(vec![0.9, 0.95])),
    /// };
    /// let d = Scheme::builtin()?.derive(BuildingType::Industrial, None, &data)?;
    /// let coverage = d.iter().find(|d| d.criterion == "consumption-coverage").unwrap();
    /// assert_eq!(coverage.value, Some(80.0));
    /// assert_eq!(coverage.level, None); // the thresholds are not known
    /// # Ok::<(), eiec::Error>(())
    /// ```
    pub fn derive(
        &self,
        building: BuildingType,
        edition: Option<&str>,
        data: &MeasuredData,
    ) -> Result<Vec<Derivation>, Error> {
        let set = self.criteria.set_for(building, edition)?;
        let m = derive::measure(data)?;
        Ok(derive::derive(set, &m))
    }

    /// The synoptic table of a result, with the criteria set it was scored against.
    ///
    /// ```
    /// use eiec::{Assessment, BuildingType, ClassScale, Scheme};
    /// let scheme = Scheme::builtin()?;
    /// let r = scheme.assess(&Assessment::new(BuildingType::Commercial), ClassScale::Six)?;
    /// assert!(scheme.synoptic(&r)?.text().contains("expected class for commercial buildings: unknown"));
    /// # Ok::<(), eiec::Error>(())
    /// ```
    pub fn synoptic<'a>(&'a self, result: &'a AssessmentResult) -> Result<Synoptic<'a>, Error> {
        let set = self
            .criteria
            .set_for(result.building, Some(&result.edition))?;
        Ok(Synoptic::new(set, result))
    }
}
