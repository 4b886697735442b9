namespace Courier;

/// <summary>Base of every error Courier reports. Caller cancellation is an <see cref="OperationCanceledException"/> instead.</summary>
public abstract class CourierException : Exception
{
    /// <summary>Creates the exception.</summary>
    protected CourierException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

/// <summary>No reply arrived within the attempt timeout after every retry, or before the overall deadline.</summary>
public sealed class CourierTimeoutException : CourierException
{
    /// <summary>Creates the exception.</summary>
    public CourierTimeoutException(string service, int attempts, TimeSpan elapsed)
        : base($"Request to service '{service}' timed out after {attempts} attempt(s) in {elapsed.TotalSeconds:0.###} s.")
    {
        Service = service;
        Attempts = attempts;
        Elapsed = elapsed;
    }

    /// <summary>The service requested.</summary>
    public string Service { get; }

    /// <summary>How many times the request was sent.</summary>
    public int Attempts { get; }

    /// <summary>Time from the call to the failure.</summary>
    public TimeSpan Elapsed { get; }
}

/// <summary>The peer answered with an error status (unknown service, handler failure, malformed or too large request, overload).</summary>
public sealed class CourierRemoteException : CourierException
{
    /// <summary>Creates the exception.</summary>
    public CourierRemoteException(string service, int statusCode, string remoteMessage)
        : base($"Service '{service}' answered {statusCode}: {remoteMessage}")
    {
        Service = service;
        StatusCode = statusCode;
        RemoteMessage = remoteMessage;
    }

    /// <summary>The service requested.</summary>
    public string Service { get; }

    /// <summary>The status code, one of <see cref="Protocol.CourierStatus"/>.</summary>
    public int StatusCode { get; }

    /// <summary>The peer's explanation.</summary>
    public string RemoteMessage { get; }
}

/// <summary>A peer broke the wire protocol in a way that prevents serving the request.</summary>
public sealed class CourierProtocolException : CourierException
{
    /// <summary>Creates the exception.</summary>
    public CourierProtocolException(string message)
        : base(message)
    {
    }
}

/// <summary>The client or server was disposed or stopped while the operation was pending.</summary>
public sealed class CourierClosedException : CourierException
{
    /// <summary>Creates the exception.</summary>
    public CourierClosedException(string message)
        : base(message)
    {
    }
}

/// <summary>
/// The client could not open a connection to <see cref="Endpoint"/> (the transport refused the address: an unknown
/// host, say). Nothing was sent.
/// </summary>
public sealed class CourierUnreachableException : CourierException
{
    /// <summary>Creates the exception for <paramref name="endpoint"/>, with the transport's reason.</summary>
    public CourierUnreachableException(string endpoint, Exception? innerException)
        : base($"Cannot connect to {endpoint}: {innerException?.Message}", innerException)
    {
        Endpoint = endpoint;
    }

    /// <summary>The endpoint that could not be connected.</summary>
    public string Endpoint { get; }
}

/// <summary>
/// A typed request's reply could not be read as the type the caller asked for (its body is not valid JSON for
/// <see cref="ReplyType"/>). The service did answer: resending will not help.
/// </summary>
public sealed class CourierSerializationException : CourierException
{
    /// <summary>Creates the exception for a reply from <paramref name="service"/> that is not a <paramref name="replyType"/>.</summary>
    public CourierSerializationException(string service, Type replyType, Exception innerException)
        : base($"Service '{service}' replied with a body that is not valid JSON for {replyType?.Name}: {innerException?.Message}", innerException)
    {
        ArgumentNullException.ThrowIfNull(replyType);
        Service = service;
        ReplyType = replyType;
    }

    /// <summary>The service that answered.</summary>
    public string Service { get; }

    /// <summary>The type the caller expected.</summary>
    public Type ReplyType { get; }
}

/// <summary>
/// The request reached a handler that may or may not have run it, and it was not declared idempotent, so it was not run
/// again: its worker died or stalled past its liveness while holding it (status <c>520</c>, docs/protocol.md §8). Whether
/// its effects happened is unknown; check before retrying it yourself.
/// </summary>
public sealed class CourierOutcomeUnknownException : CourierException
{
    /// <summary>Creates the exception.</summary>
    public CourierOutcomeUnknownException(string service, string remoteMessage)
        : base($"Outcome of the request to service '{service}' is unknown: {remoteMessage}")
    {
        Service = service;
        RemoteMessage = remoteMessage;
    }

    /// <summary>The service requested.</summary>
    public string Service { get; }

    /// <summary>The peer's explanation.</summary>
    public string RemoteMessage { get; }
}
