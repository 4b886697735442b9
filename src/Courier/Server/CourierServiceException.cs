namespace Courier.Server;

/// <summary>
/// Thrown by a handler to answer a chosen error status on purpose (<c>404</c> for an unknown item, <c>422</c> for a
/// request it will not serve): the caller gets <see cref="Exception.Message"/> and <see cref="StatusCode"/> as they
/// are. Any other exception a handler throws reaches the caller only as <c>500</c> and an error id, its details logged
/// on the serving side under the same id.
/// </summary>
public sealed class CourierServiceException : CourierException
{
    /// <summary>
    /// Creates the exception; <paramref name="statusCode"/> must be an error status, 400 to 599, other than 429, 503,
    /// 504 and 520: those say whether a request ran (a broker gives a request answered 429 or 503 to another worker, a
    /// caller retries a 503 elsewhere), and only Courier answers them.
    /// </summary>
    public CourierServiceException(int statusCode, string message)
        : base(message)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(statusCode, 400);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(statusCode, 599);
        if (statusCode is Protocol.CourierStatus.TooManyRequests or Protocol.CourierStatus.Unavailable
            or Protocol.CourierStatus.DeadlineExceeded or Protocol.CourierStatus.OutcomeUnknown)
        {
            throw new ArgumentOutOfRangeException(
                nameof(statusCode),
                statusCode,
                "429, 503, 504 and 520 say whether a request ran, and only Courier answers them: a handler that asserted one would have its request run again elsewhere. Answer another status, such as 500 or 422.");
        }

        StatusCode = statusCode;
    }

    /// <summary>The status the caller receives (see <see cref="Protocol.CourierStatus"/>).</summary>
    public int StatusCode { get; }
}
