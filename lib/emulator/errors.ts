/**
 * Service errors as values. Every failure a client can cause is an `OtsError` carrying the
 * Tablestore error code and message the real service would send; the HTTP layer maps the code
 * to a status and a protobuf `Error` body.
 */

export type OtsErrorCode =
  | 'OTSParameterInvalid'
  | 'OTSInvalidPK'
  | 'OTSAuthFailed'
  | 'OTSConditionCheckFail'
  | 'OTSObjectNotExist'
  | 'OTSObjectAlreadyExist'
  | 'OTSOutOfRowSizeLimit'
  | 'OTSOutOfColumnCountLimit'
  | 'OTSQuotaExhausted'
  | 'OTSMethodNotAllowed'
  | 'OTSRequestBodyTooLarge'
  | 'OTSInternalServerError'
  | 'OTSServerBusy';

export interface OtsError {
  readonly code: OtsErrorCode;
  readonly message: string;
}

export const otsError = (code: OtsErrorCode, message: string): OtsError => ({ code, message });

export const parameterInvalid = (message: string): OtsError => otsError('OTSParameterInvalid', message);
export const invalidPk = (message: string): OtsError => otsError('OTSInvalidPK', message);
export const tableNotExist = (): OtsError => otsError('OTSObjectNotExist', 'Requested table does not exist.');
export const conditionCheckFail = (): OtsError => otsError('OTSConditionCheckFail', 'Condition check failed.');

/** HTTP status per code, as listed in the service's error-code table. */
export const HTTP_STATUS_BY_CODE: Readonly<Record<OtsErrorCode, number>> = {
  OTSParameterInvalid: 400,
  OTSInvalidPK: 400,
  OTSOutOfRowSizeLimit: 400,
  OTSOutOfColumnCountLimit: 400,
  OTSAuthFailed: 403,
  OTSConditionCheckFail: 403,
  OTSQuotaExhausted: 403,
  OTSObjectNotExist: 404,
  OTSMethodNotAllowed: 405,
  OTSObjectAlreadyExist: 409,
  OTSRequestBodyTooLarge: 413,
  OTSInternalServerError: 500,
  OTSServerBusy: 503,
};
