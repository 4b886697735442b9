namespace Courier.Transport.Internal.Zmtp;

/// <summary>Which sockets of the native transport are Courier's own ZMTP DEALERs rather than libzmq's.</summary>
internal static class ZmtpDealers
{
    /// <summary><c>COURIER_OWN_ZMTP</c>: <c>0</c> turns the own DEALER off in this process, <c>1</c> on; unset, the options decide.</summary>
    private static readonly bool? FromEnvironment = Environment.GetEnvironmentVariable("COURIER_OWN_ZMTP") switch
    {
        "0" => false,
        "1" => true,
        _ => null,
    };

    /// <summary>
    /// Whether a socket of <paramref name="kind"/> with <paramref name="options"/>, connecting to
    /// <paramref name="endpoint"/>, is one: a DEALER (a client's connection, or a worker's) over TCP without CURVE, unless
    /// turned off (<see cref="TransportOptions.CourierZmtpForDealers"/>). inproc:// and ipc:// stay libzmq's.
    /// </summary>
    public static bool Serve(SocketKind kind, TransportOptions options, string endpoint)
        => (FromEnvironment ?? options.CourierZmtpForDealers) && kind == SocketKind.Dealer && options.Curve is null
            && endpoint.StartsWith("tcp://", StringComparison.Ordinal) && !endpoint.Contains(';', StringComparison.Ordinal);
}
