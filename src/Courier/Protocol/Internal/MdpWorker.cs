
namespace Courier.Protocol.Internal;

/// <summary>7/MDP worker commands (docs/protocol.md §2).</summary>
internal static class MdpWorker
{
    public const byte Ready = 0x01;
    public const byte Request = 0x02;
    public const byte Reply = 0x03;
    public const byte Heartbeat = 0x04;
    public const byte Disconnect = 0x05;

    public static readonly byte[] ReadyFrame = [Ready];
    public static readonly byte[] RequestFrame = [Request];
    public static readonly byte[] ReplyFrame = [Reply];
    public static readonly byte[] HeartbeatFrame = [Heartbeat];
    public static readonly byte[] DisconnectFrame = [Disconnect];

    /// <summary>
    /// A courier/6 worker's DISCONNECT may end with this frame: it answered every request it took on the connection, so
    /// any the broker still counts as its crossed the DISCONNECT and never ran (docs/protocol.md §3).
    /// </summary>
    public static readonly byte[] DrainedFrame = "drained"u8.ToArray();

    /// <summary>
    /// The message of a stopping Courier worker's 503, the same in every version: before courier/6, whose workers say
    /// "full" with a 503 too, it is how a broker tells the two apart.
    /// </summary>
    public static readonly byte[] StoppingMessage = "worker stopping"u8.ToArray();

    /// <summary>Whether a 503's <paramref name="body"/> is <see cref="StoppingMessage"/>.</summary>
    public static bool SaysStopping(ReadOnlySpan<ReadOnlyMemory<byte>> body)
        => body.Length == 1 && body[0].Span.SequenceEqual(StoppingMessage);
}
