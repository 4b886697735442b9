namespace Courier.Transport.Internal;

/// <summary>
/// CURVE settings for a socket (ZeroMQ RFC 26), keys as 32 raw bytes: a listener's key pair and ZAP domain
/// (<see cref="ServerKey"/> null), or a connecting socket's key pair and the key of the server it connects to.
/// </summary>
internal sealed record CurveSettings(byte[] PublicKey, byte[] SecretKey, byte[]? ServerKey, string? ZapDomain)
{
    /// <summary>Whether the socket is the CURVE server (it listens and admits clients).</summary>
    public bool IsServer => ServerKey is null;
}
