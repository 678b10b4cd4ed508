import { renderXml, type XmlNode } from "./server-xml.ts";

/**
 * An S3 error response: thrown inside request handling, rendered as S3's XML error body.
 * `extra` adds elements after `Message` (e.g. `Key`, `BucketName`, `UploadId`).
 */
export class S3Fault extends Error {
  constructor(
    readonly s3Code: string,
    readonly status: number,
    message: string,
    readonly extra: Record<string, string> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function renderErrorXml(fault: S3Fault, resource: string, requestId: string): string {
  const children: XmlNode[] = [
    ["Code", fault.s3Code],
    ["Message", fault.message],
  ];
  for (const [k, v] of Object.entries(fault.extra)) children.push([k, v]);
  children.push(["Resource", resource], ["RequestId", requestId], ["HostId", requestId]);
  return renderXml(["Error", children], false);
}

export const errors = {
  accessDenied: (message = "Access Denied") => new S3Fault("AccessDenied", 403, message),
  badDigest: (what: string) =>
    new S3Fault("BadDigest", 400, `The ${what} you specified did not match the calculated checksum.`),
  bucketAlreadyOwnedByYou: (bucket: string) =>
    new S3Fault(
      "BucketAlreadyOwnedByYou",
      409,
      "Your previous request to create the named bucket succeeded and you already own it.",
      { BucketName: bucket },
    ),
  bucketNotEmpty: (bucket: string) =>
    new S3Fault("BucketNotEmpty", 409, "The bucket you tried to delete is not empty", { BucketName: bucket }),
  entityTooLarge: (max: number) =>
    new S3Fault("EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size", {
      MaxSizeAllowed: String(max),
    }),
  entityTooSmall: (partNumber: number, min: number) =>
    new S3Fault(
      "EntityTooSmall",
      400,
      "Your proposed upload is smaller than the minimum allowed object size.",
      {
        PartNumber: String(partNumber),
        MinSizeAllowed: String(min),
      },
    ),
  incompleteBody: () =>
    new S3Fault(
      "IncompleteBody",
      400,
      "You did not provide the number of bytes specified by the Content-Length HTTP header",
    ),
  internalError: () =>
    new S3Fault("InternalError", 500, "We encountered an internal error. Please try again."),
  invalidAccessKeyId: (keyId: string) =>
    new S3Fault(
      "InvalidAccessKeyId",
      403,
      "The AWS Access Key Id you provided does not exist in our records.",
      { AWSAccessKeyId: keyId },
    ),
  invalidArgument: (message: string, name?: string, value?: string) =>
    new S3Fault(
      "InvalidArgument",
      400,
      message,
      name === undefined ? {} : { ArgumentName: name, ArgumentValue: value ?? "" },
    ),
  invalidBucketName: (bucket: string) =>
    new S3Fault("InvalidBucketName", 400, "The specified bucket is not valid.", { BucketName: bucket }),
  invalidDigest: () => new S3Fault("InvalidDigest", 400, "The Content-MD5 you specified is not valid."),
  invalidPart: (partNumber: number) =>
    new S3Fault(
      "InvalidPart",
      400,
      "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag.",
      { PartNumber: String(partNumber) },
    ),
  invalidPartOrder: () =>
    new S3Fault(
      "InvalidPartOrder",
      400,
      "The list of parts was not in ascending order. Parts must be ordered by part number.",
    ),
  invalidRange: (size: number) =>
    new S3Fault(
      "InvalidRange",
      416,
      "The requested range is not satisfiable",
      { ActualObjectSize: String(size) },
      { "content-range": `bytes */${size}` },
    ),
  invalidRequest: (message: string) => new S3Fault("InvalidRequest", 400, message),
  malformedXml: () =>
    new S3Fault(
      "MalformedXML",
      400,
      "The XML you provided was not well-formed or did not validate against our published schema",
    ),
  methodNotAllowed: (method: string) =>
    new S3Fault("MethodNotAllowed", 405, "The specified method is not allowed against this resource.", {
      Method: method,
    }),
  noSuchBucket: (bucket: string) =>
    new S3Fault("NoSuchBucket", 404, "The specified bucket does not exist", { BucketName: bucket }),
  noSuchKey: (key: string) =>
    new S3Fault("NoSuchKey", 404, "The specified key does not exist.", { Key: key }),
  noSuchUpload: (uploadId: string) =>
    new S3Fault(
      "NoSuchUpload",
      404,
      "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
      { UploadId: uploadId },
    ),
  notImplemented: (what: string) =>
    new S3Fault(
      "NotImplemented",
      501,
      `A header or query you provided implies functionality that is not implemented: ${what}`,
    ),
  preconditionFailed: (condition: string) =>
    new S3Fault("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold", {
      Condition: condition,
    }),
  requestTimeTooSkewed: () =>
    new S3Fault(
      "RequestTimeTooSkewed",
      403,
      "The difference between the request time and the current time is too large.",
    ),
  signatureDoesNotMatch: () =>
    new S3Fault(
      "SignatureDoesNotMatch",
      403,
      "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    ),
  slowDown: () => new S3Fault("SlowDown", 503, "Please reduce your request rate."),
  contentSha256Mismatch: () =>
    new S3Fault(
      "XAmzContentSHA256Mismatch",
      400,
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
    ),
  authorizationHeaderMalformed: (message: string) =>
    new S3Fault("AuthorizationHeaderMalformed", 400, message),
  authorizationQueryParametersError: (message: string) =>
    new S3Fault("AuthorizationQueryParametersError", 400, message),
  missingContentLength: () =>
    new S3Fault("MissingContentLength", 411, "You must provide the Content-Length HTTP header."),
};
