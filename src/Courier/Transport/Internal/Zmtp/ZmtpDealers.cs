namespace Courier.Transport.Internal.Zmtp;

/// <summary>Which sockets of the native transport are Courier's own ZMTP DEALERs rather than libzmq's.</summary>
internal static class ZmtpDealers
{
    /// <summary>Set by <c>COURIER_OWN_ZMTP=1</c> (an experiment while the socket is measured; see docs/performance.md).</summary>
    internal static bool Enabled { get; set; } = Environment.GetEnvironmentVariable("COURIER_OWN_ZMTP") == "1";

    /// <summary>
    /// Whether a socket of <paramref name="kind"/> with <paramref name="options"/>, connecting to
    /// <paramref name="endpoint"/>, is one: a DEALER over TCP without CURVE whose unwritten bytes nobody counts (a client's
    /// connection, not a worker's). inproc:// and ipc:// stay libzmq's.
    /// </summary>
    public static bool Serve(SocketKind kind, TransportOptions options, string endpoint, bool countUnwritten)
        => (Enabled || options.OwnZmtp) && kind == SocketKind.Dealer && options.Curve is null && !countUnwritten
            && endpoint.StartsWith("tcp://", StringComparison.Ordinal) && !endpoint.Contains(';', StringComparison.Ordinal);
}
