using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Courier.Protocol.Internal;

/// <summary>
/// A client's identity under courier/5: 16 random bytes, the same on every connection and attempt of one
/// <see cref="Client.CourierClient"/>, so that a server or broker knows a repeated attempt of a request (client, request
/// id) whatever connection it came by. Random, and so not guessable by another peer. Zero means none (before courier/5).
/// </summary>
internal readonly record struct ClientIdentity(ulong High, ulong Low)
{
    public const int Length = 16;

    public bool IsNone => High == 0 && Low == 0;

    public static ClientIdentity NewRandom()
    {
        Span<byte> bytes = stackalloc byte[Length];
        do
        {
            RandomNumberGenerator.Fill(bytes);
        }
        while (bytes.IndexOfAnyExcept((byte)0) < 0);

        return Read(bytes);
    }

    public static ClientIdentity Read(ReadOnlySpan<byte> span)
        => new(BinaryPrimitives.ReadUInt64BigEndian(span), BinaryPrimitives.ReadUInt64BigEndian(span[8..]));

    public void Write(Span<byte> span)
    {
        BinaryPrimitives.WriteUInt64BigEndian(span, High);
        BinaryPrimitives.WriteUInt64BigEndian(span[8..], Low);
    }

    /// <summary>
    /// This identity as a CURVE-authenticated peer's own: a hash of it and <paramref name="userId"/> (the client's public
    /// key, as the ZAP handler vouched). Identities are secret only while no one logs or leaks them; bound, a peer that
    /// learned another client's identity still names requests of its own, and can neither join, cancel nor take the
    /// remembered reply of the other's (docs/protocol.md §8).
    /// </summary>
    public ClientIdentity BoundTo(string userId)
    {
        var length = System.Text.Encoding.UTF8.GetMaxByteCount(userId.Length);
        Span<byte> input = length <= 256 ? stackalloc byte[Length + length] : new byte[Length + length];
        Write(input);
        var used = System.Text.Encoding.UTF8.GetBytes(userId, input[Length..]);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(input[..(Length + used)], hash);
        var bound = Read(hash);
        return bound.IsNone ? new ClientIdentity(0, 1) : bound; // zero means "none": never the result
    }

    public override string ToString() => $"{High:x16}{Low:x16}";
}

/// <summary>One request of one client, whatever attempt or connection carries it: what at-most-once remembers.</summary>
internal readonly record struct RequestKey(ClientIdentity Client, ulong RequestId)
{
    /// <summary>
    /// All 192 bits, through the process's seeded <see cref="HashCode"/>. The client picks every bit of a key, and the
    /// generated hash folds each ulong to its two halves XORed: request ids (k &lt;&lt; 32) | k all hashed alike, and
    /// 100,000 of them in a ledger took 12.8 s of its loop to insert (12 ms spread out).
    /// </summary>
    public override int GetHashCode() => HashCode.Combine(
        (uint)Client.High, (uint)(Client.High >> 32), (uint)Client.Low, (uint)(Client.Low >> 32), (uint)RequestId, (uint)(RequestId >> 32));
}

/// <summary>Flags of a courier/5 request.</summary>
[Flags]
internal enum DeliveryFlags : byte
{
    None = 0,

    /// <summary>The caller declared the request idempotent: it may run again (on another worker, after a stall).</summary>
    Idempotent = 0x01,

    /// <summary>
    /// The client speaks courier/7: its reply may go back in a batch of up to <see cref="Batch.LargeMaxFrameLength"/>.
    /// A flag rather than a batch kind of its own, so that a server before courier/7 (which ignores flags it does not
    /// know) still reads the batch: after a silent reconnect to an older instance, the client's batches are served, or
    /// over 64 KiB dropped whole, never read as something else.
    /// </summary>
    LargeReplies = 0x02,

    /// <summary>
    /// The client reads a 503 in the headers form, naming the attempt it refuses (<see cref="AttemptHeader"/>). Asked for,
    /// not assumed: a courier/5 client of someone else's that reads error replies only in the short form keeps them so.
    /// </summary>
    RefusalNamesAttempt = 0x04,
}

/// <summary>
/// What courier/5 adds to a request (docs/protocol.md §8): the client's identity, the attempt, flags, the remaining
/// budget in milliseconds (relative, so no clock sync; 0 for none) and the encoded headers (a slice of the request's
/// own bytes; empty for none).
/// </summary>
internal readonly record struct Delivery(ClientIdentity Client, byte Attempt, DeliveryFlags Flags, uint BudgetMs, ReadOnlyMemory<byte> Headers)
{
    /// <summary>Attempt, flags and budget: what a batch record's meta holds before the headers.</summary>
    public const int FixedLength = 6;

    public bool Idempotent => (Flags & DeliveryFlags.Idempotent) != 0;

    /// <summary>
    /// The timestamp (on <paramref name="clock"/>) at which a budget of <paramref name="budgetMs"/> runs out, or
    /// <see cref="long.MaxValue"/> for none (0).
    /// </summary>
    public static long DeadlineOf(uint budgetMs, TimeProvider clock)
        => budgetMs > 0 ? clock.GetTimestamp() + (long)(budgetMs * (double)clock.TimestampFrequency / 1000) : long.MaxValue;

    /// <summary>Writes attempt, flags and budget (<see cref="FixedLength"/> bytes).</summary>
    public static void WriteFixed(Span<byte> span, byte attempt, DeliveryFlags flags, uint budgetMs)
    {
        span[0] = attempt;
        span[1] = (byte)flags;
        BinaryPrimitives.WriteUInt32BigEndian(span[2..], budgetMs);
    }
}
