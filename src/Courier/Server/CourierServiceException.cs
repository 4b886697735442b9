namespace Courier.Server;

/// <summary>
/// Thrown by a handler to answer a chosen error status on purpose (<c>404</c> for an unknown item, <c>422</c> for a
/// request it will not serve): the caller gets <see cref="Exception.Message"/> and <see cref="StatusCode"/> as they
/// are. Any other exception a handler throws reaches the caller only as <c>500</c> and an error id, its details logged
/// on the serving side under the same id.
/// </summary>
public sealed class CourierServiceException : CourierException
{
    /// <summary>Creates the exception; <paramref name="statusCode"/> must be an error status, 400 to 599.</summary>
    public CourierServiceException(int statusCode, string message)
        : base(message)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(statusCode, 400);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(statusCode, 599);
        StatusCode = statusCode;
    }

    /// <summary>The status the caller receives (see <see cref="Protocol.CourierStatus"/>).</summary>
    public int StatusCode { get; }
}
