using System.Globalization;
using System.Text;

namespace Courier.Protocol.Internal;

/// <summary>
/// Courier's worker framing (docs/protocol.md §3), between a Courier broker and a Courier worker: the READY capability
/// frame (<c>courier/V capacity=N</c>) and the one-frame <c>"CURW02"</c> REQUEST and REPLY headers.
/// </summary>
internal static class CourierWorkerFrame
{
    // The version of its READY frame says what a worker takes: batches (courier/3, docs/protocol.md §6), several
    // services on one connection and a name (courier/4), delivery (courier/5), 429 and "drained" (courier/6), larger
    // batches (courier/7). Newest first: the first prefix that matches is the version.
    private static readonly (int Version, byte[] Prefix)[] CapabilityPrefixes =
    [
        (7, Encoding.ASCII.GetBytes(ProtocolVersions.WorkerCapability7)),
        (6, Encoding.ASCII.GetBytes(ProtocolVersions.WorkerCapability6)),
        (5, Encoding.ASCII.GetBytes(ProtocolVersions.WorkerCapability5)),
        (4, Encoding.ASCII.GetBytes(ProtocolVersions.WorkerCapability4)),
        (3, Encoding.ASCII.GetBytes(ProtocolVersions.WorkerCapability3)),
        (2, Encoding.ASCII.GetBytes(ProtocolVersions.WorkerCapability2)),
    ];

    private static readonly byte[] NameKey = " name="u8.ToArray();
    private static readonly byte[] IdempotentKey = " idempotent"u8.ToArray();

    /// <summary>
    /// Header of a Courier REQUEST or REPLY between a Courier broker and a Courier worker: one frame carrying header,
    /// command, token (and, in a REPLY, the status) in place of 7/MDP's four or five.
    /// </summary>
    public static readonly byte[] Header = "CURW02"u8.ToArray();

    /// <summary>Header, command byte, 8-byte token: a REQUEST to a worker that registered before courier/4.</summary>
    public const int RequestLength = 15;

    /// <summary>The longest REQUEST header: under courier/4 the service name (up to 255 bytes) follows the token.</summary>
    public const int MaxRequestLength = RequestLength + Mdp.MaxServiceNameLength;

    /// <summary>Header, command byte, 8-byte token, three-digit status.</summary>
    public const int ReplyLength = 18;

    /// <summary>
    /// Writes a Courier REQUEST header into <paramref name="frame"/>: <c>"CURW02"</c>, <c>0x02</c>, the token, then
    /// <paramref name="service"/> (empty but for courier/4 workers, which serve several on one connection). Returns its length.
    /// </summary>
    public static int WriteRequest(Span<byte> frame, ulong token, ReadOnlySpan<byte> service = default)
    {
        Header.CopyTo(frame);
        frame[6] = MdpWorker.Request;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(frame[7..], token);
        service.CopyTo(frame[RequestLength..]);
        return RequestLength + service.Length;
    }

    /// <summary>True when <paramref name="frame"/> is a Courier REQUEST header, with or without a service after the token.</summary>
    public static bool IsRequest(ReadOnlySpan<byte> frame)
        => frame.Length is >= RequestLength and <= MaxRequestLength && frame[6] == MdpWorker.Request && frame.StartsWith(Header);

    /// <summary>Writes a Courier REPLY header (header, 0x03, token, three-digit status) into <paramref name="frame"/> (<see cref="ReplyLength"/> bytes).</summary>
    public static void WriteReply(Span<byte> frame, ulong token, int status)
    {
        Header.CopyTo(frame);
        frame[6] = MdpWorker.Reply;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(frame[7..], token);
        StatusFrames.Of(status).CopyTo(frame[15..]);
    }

    /// <summary>True when <paramref name="frame"/> is a Courier header of <paramref name="length"/> bytes for <paramref name="command"/>.</summary>
    public static bool Is(ReadOnlySpan<byte> frame, byte command, int length)
        => frame.Length == length && frame[6] == command && frame.StartsWith(Header);

    /// <summary>
    /// The extra READY frame a Courier worker sends a Courier broker: <c>courier/V capacity=N</c>, where V is the version
    /// negotiated (2 to 7), and from courier/4 on <c> name=NAME</c> after it when the worker has a name. The broker then
    /// keeps up to N requests of that service outstanding to it, and REQUEST and REPLY between them use the one-frame
    /// Courier header.
    /// </summary>
    public static byte[] Capability(int version, int capacity, string? name = null, bool idempotent = false)
    {
        var text = $"courier/{Math.Clamp(version, 2, ProtocolVersions.Newest)} capacity={capacity.ToString(CultureInfo.InvariantCulture)}";
        if (version >= 5 && idempotent)
        {
            // Before the name, which is the rest of the frame.
            text += " idempotent";
        }

        if (version >= 4 && !string.IsNullOrEmpty(name))
        {
            text += " name=" + WorkerName.Sanitize(name);
        }

        return Encoding.UTF8.GetBytes(text);
    }

    /// <summary>Parses the capability frame; <see cref="WorkerCapability.None"/> when it is not one (a stock worker's READY).</summary>
    public static WorkerCapability ParseCapability(ReadOnlySpan<byte> frame)
    {
        foreach (var (version, prefix) in CapabilityPrefixes)
        {
            if (!frame.StartsWith(prefix))
            {
                continue;
            }

            var rest = frame[prefix.Length..];
            string? name = null;
            var nameAt = version >= 4 ? rest.IndexOf(NameKey) : -1;
            if (nameAt >= 0)
            {
                // The name is the rest of the frame, spaces and all.
                name = WorkerName.Decode(rest[(nameAt + NameKey.Length)..]);
                rest = rest[..nameAt];
            }

            var idempotent = version >= 5 && rest.EndsWith(IdempotentKey);
            if (idempotent)
            {
                rest = rest[..^IdempotentKey.Length];
            }

            return rest.Length is > 0 and <= 9
                && int.TryParse(Encoding.ASCII.GetString(rest), NumberStyles.None, CultureInfo.InvariantCulture, out var capacity) && capacity > 0
                ? new WorkerCapability(version, capacity, name, idempotent)
                : WorkerCapability.None;
        }

        return WorkerCapability.None;
    }
}
