namespace Courier.Transport.Internal;

/// <summary>
/// The token a managed (NetMQ) ROUTER is told to deliver when a peer's connection drops (its DisconnectMessage option):
/// a fixed prefix, then 16 random bytes of that socket's own, so that no peer can forge its socket's notice. NetMQ also
/// sends the token to the peers of a ROUTER that closes, where it arrives as a message of one frame (to native and
/// managed peers alike: it goes over the wire). The prefix lets every loop recognise such a stray notice and drop it
/// before any handler sees it, instead of each taking it for a malformed message from its broker or server.
/// </summary>
internal static class DisconnectNotice
{
    private static readonly byte[] Prefix = [0xFF, .. "courier-peer-gone"u8];

    private const int RandomLength = 16;

    /// <summary>A new token for one socket.</summary>
    public static byte[] NewToken() => [.. Prefix, .. System.Security.Cryptography.RandomNumberGenerator.GetBytes(RandomLength)];

    /// <summary>
    /// True for another socket's notice arriving as a message of its own: one frame, a token's length and prefix. A ROUTER
    /// never receives a message of one frame (the routing id comes first), so this never hides a request.
    /// </summary>
    public static bool IsStray(MessageFrames message)
        => message.Count == 1 && message.Length(0) == Prefix.Length + RandomLength && message[0].StartsWith(Prefix);
}
