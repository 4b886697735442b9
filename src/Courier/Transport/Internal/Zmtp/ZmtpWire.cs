using System.Buffers.Binary;

namespace Courier.Transport.Internal.Zmtp;

/// <summary>
/// The parts of ZMTP 3.1 (RFC 37) a connecting DEALER with the NULL mechanism writes and reads: the greeting, the READY
/// command, frame headers, PING and PONG. Pure functions over spans; the connection owns the buffers.
/// </summary>
internal static class ZmtpWire
{
    public const int GreetingSize = 64;

    /// <summary>Flag bits of a frame's first byte.</summary>
    public const byte More = 0x01;
    public const byte Long = 0x02;
    public const byte Command = 0x04;

    /// <summary>The most a short frame holds; a larger one has an 8-byte size.</summary>
    public const int ShortMax = 255;

    /// <summary>The greeting this side sends: ZMTP 3.1, NULL, not as-server.</summary>
    public static ReadOnlySpan<byte> Greeting =>
    [
        0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 1,
        (byte)'N', (byte)'U', (byte)'L', (byte)'L', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];

    /// <summary>A READY command saying Socket-Type DEALER, as a whole frame.</summary>
    public static ReadOnlySpan<byte> ReadyDealer =>
    [
        Command, 28, 5, (byte)'R', (byte)'E', (byte)'A', (byte)'D', (byte)'Y',
        11, (byte)'S', (byte)'o', (byte)'c', (byte)'k', (byte)'e', (byte)'t', (byte)'-', (byte)'T', (byte)'y', (byte)'p', (byte)'e',
        0, 0, 0, 6, (byte)'D', (byte)'E', (byte)'A', (byte)'L', (byte)'E', (byte)'R',
    ];

    /// <summary>What is wrong with a peer's greeting, or null: ZMTP 3.x, the NULL mechanism.</summary>
    public static string? GreetingProblem(ReadOnlySpan<byte> greeting)
    {
        if (greeting[0] != 0xFF || (greeting[9] & 0x01) == 0)
        {
            return "not a ZMTP greeting";
        }

        if (greeting[10] < 3)
        {
            return $"ZMTP {greeting[10]}.{greeting[11]}, not 3.x";
        }

        var mechanism = greeting.Slice(12, 20);
        var end = mechanism.IndexOf((byte)0);
        var name = end < 0 ? mechanism : mechanism[..end];
        return name.SequenceEqual("NULL"u8) && (end < 0 || !mechanism[end..].ContainsAnyExcept((byte)0))
            ? null
            : $"the mechanism {System.Text.Encoding.ASCII.GetString(name)}, not NULL";
    }

    /// <summary>The name of a command frame's body, or empty when it has none that fits.</summary>
    public static ReadOnlySpan<byte> CommandName(ReadOnlySpan<byte> body)
        => body.Length > 0 && body[0] <= body.Length - 1 ? body.Slice(1, body[0]) : default;

    /// <summary>What is wrong with a peer's READY (its body) for a DEALER, or null: well formed, from a ROUTER, DEALER or REP.</summary>
    public static string? ReadyProblem(ReadOnlySpan<byte> body)
    {
        if (!CommandName(body).SequenceEqual("READY"u8))
        {
            return "no READY after the greeting";
        }

        var rest = body[6..];
        ReadOnlySpan<byte> socketType = default;
        while (rest.Length > 0)
        {
            var nameLength = rest[0];
            if (rest.Length < 1 + nameLength + 4)
            {
                return "a malformed READY";
            }

            var name = rest.Slice(1, nameLength);
            var valueLength = BinaryPrimitives.ReadUInt32BigEndian(rest.Slice(1 + nameLength));
            if (valueLength > (uint)(rest.Length - 5 - nameLength))
            {
                return "a malformed READY";
            }

            var value = rest.Slice(5 + nameLength, (int)valueLength);
            if (System.Text.Ascii.EqualsIgnoreCase(name, "Socket-Type"u8))
            {
                socketType = value;
            }

            rest = rest[(5 + nameLength + (int)valueLength)..];
        }

        return socketType.SequenceEqual("ROUTER"u8) || socketType.SequenceEqual("DEALER"u8) || socketType.SequenceEqual("REP"u8)
            ? null
            : $"a peer of Socket-Type '{System.Text.Encoding.ASCII.GetString(socketType)}', which a DEALER cannot talk to";
    }

    /// <summary>The size of a frame header for <paramref name="length"/> bytes.</summary>
    public static int HeaderSize(long length) => length > ShortMax ? 9 : 2;

    /// <summary>Writes a frame header into <paramref name="into"/>; its size.</summary>
    public static int WriteHeader(Span<byte> into, long length, byte flags)
    {
        if (length > ShortMax)
        {
            into[0] = (byte)(flags | Long);
            BinaryPrimitives.WriteInt64BigEndian(into[1..], length);
            return 9;
        }

        into[0] = flags;
        into[1] = (byte)length;
        return 2;
    }

    /// <summary>
    /// Reads the header of the frame at the start of <paramref name="data"/>: false when it is not all there yet; its
    /// flags, body length and header size otherwise.
    /// </summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> data, out byte flags, out long length, out int headerSize)
    {
        flags = 0;
        length = 0;
        headerSize = 0;
        if (data.Length < 2)
        {
            return false;
        }

        flags = data[0];
        if ((flags & Long) == 0)
        {
            length = data[1];
            headerSize = 2;
            return true;
        }

        if (data.Length < 9)
        {
            return false;
        }

        length = BinaryPrimitives.ReadInt64BigEndian(data[1..]);
        headerSize = 9;
        return true;
    }

    /// <summary>Writes a PONG answering a PING's body (its context echoed, at most 16 bytes) into <paramref name="into"/>; its size.</summary>
    public static int WritePong(Span<byte> into, ReadOnlySpan<byte> ping)
    {
        // PING: name, a 2-byte TTL, then up to 16 bytes of context.
        var context = ping.Length > 7 ? ping[7..] : default;
        if (context.Length > 16)
        {
            context = context[..16];
        }

        var body = 5 + context.Length;
        into[0] = Command;
        into[1] = (byte)body;
        into[2] = 4;
        "PONG"u8.CopyTo(into[3..]);
        context.CopyTo(into[7..]);
        return 2 + body;
    }

    /// <summary>A PING with no TTL and no context, as a whole frame.</summary>
    public static ReadOnlySpan<byte> Ping => [Command, 7, 4, (byte)'P', (byte)'I', (byte)'N', (byte)'G', 0, 0];
}
