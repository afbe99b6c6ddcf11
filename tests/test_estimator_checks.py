"""scikit-learn's estimator checks on STDPDigitClassifier (the estimator contract, executable).

The checks that run are those of the estimator API itself: parameters, clone and
get/set_params round trips, nothing set in __init__, unfitted errors, bad targets.
The network reads images of a fixed size (the 64 pixels of an 8x8 digit, 784 for
mnist) with non-negative intensities; scikit-learn's generated data has 1-10 arbitrary
features, negative values, NaN or object dtype. Every check that fits on such data
is skipped by name, with that reason: it cannot apply to this network.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from brianlab.models.stdp_digits import STDPDigitClassifier

IMAGES_ONLY = ("fits on generated data with 1-10 arbitrary features; the network takes exactly the "
               "image's pixels (64 for 8x8 digits, 784 for mnist)")
NON_NEGATIVE = "pixel intensities are rates: negative values are refused (positive_only)"
MESSAGE = "the refusal names the image size expected, not sklearn's wording for one sample or feature"

FITS_ON_GENERATED_DATA = (
    "check_classifier_data_not_an_array", "check_classifiers_classes", "check_classifiers_train",
    "check_dict_unchanged", "check_dont_overwrite_parameters", "check_dtype_object", "check_estimators_dtypes",
    "check_estimators_fit_returns_self", "check_estimators_nan_inf", "check_estimators_overwrite_params",
    "check_estimators_pickle", "check_f_contiguous_array_estimator", "check_fit2d_predict1d",
    "check_fit_check_is_fitted", "check_fit_idempotent", "check_fit_score_takes_y",
    "check_methods_sample_order_invariance", "check_methods_subset_invariance", "check_n_features_in",
    "check_n_features_in_after_fitting", "check_pipeline_consistency", "check_readonly_memmap_input",
    "check_supervised_y_2d",
)
EXPECTED = {name: IMAGES_ONLY for name in FITS_ON_GENERATED_DATA}
EXPECTED.update(check_positive_only_tag_during_fit=NON_NEGATIVE, check_fit2d_1sample=MESSAGE,
                check_fit2d_1feature=MESSAGE)

TINY = STDPDigitClassifier(n_per_class=1, epochs=1, settings=("n_curve=1",), device="runtime", random_state=0)


@parametrize_with_checks([TINY], expected_failed_checks=lambda estimator: EXPECTED)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
