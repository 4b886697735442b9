namespace Courier.Protocol;

/// <summary>
/// Status codes carried in Courier replies (HTTP-like, as 8/MMI uses them). Sent on the wire as three ASCII digits.
/// </summary>
public static class CourierStatus
{
    /// <summary>The request was served; the frames that follow are the reply body.</summary>
    public const int Ok = 200;

    /// <summary>The request was malformed (missing service frame, bad header, invalid service name).</summary>
    public const int BadRequest = 400;

    /// <summary>
    /// The caller is not allowed to call the service: the listener's policy grants its CURVE key no right to it
    /// (docs/security.md).
    /// </summary>
    public const int Forbidden = 403;

    /// <summary>No handler or worker serves the requested service.</summary>
    public const int NotFound = 404;

    /// <summary>The request exceeded the peer's maximum message size.</summary>
    public const int TooLarge = 413;

    /// <summary>The request was dropped after its workers failed repeatedly (a poison request).</summary>
    public const int PoisonRequest = 422;

    /// <summary>
    /// A worker already holds as many requests of the service as it declared it would (its handlers are still busy, with
    /// requests of a connection to the broker it has since lost, say): the request never ran. Sent only to a broker that
    /// agreed on courier/6, which gives the request to another worker, or back to this one once it has room; never passed
    /// on to a caller.
    /// </summary>
    public const int TooManyRequests = 429;

    /// <summary>The handler failed while serving the request.</summary>
    public const int ServerError = 500;

    /// <summary>The operation is not implemented (for example an unknown <c>mmi.*</c> query).</summary>
    public const int NotImplemented = 501;

    /// <summary>The peer is overloaded (queue full) or shutting down; retrying elsewhere may succeed.</summary>
    public const int Unavailable = 503;

    /// <summary>The request's deadline budget ran out before it was dispatched (courier/5): it never ran.</summary>
    public const int DeadlineExceeded = 504;

    /// <summary>
    /// The request was given to a handler that may or may not have run it (its worker died or stalled holding it), and
    /// it is not idempotent, so it was not run again (courier/5). Raised as <see cref="CourierOutcomeUnknownException"/>.
    /// </summary>
    public const int OutcomeUnknown = 520;
}
