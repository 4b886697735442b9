using System.Text;

namespace Courier.Tests.Infrastructure;

/// <summary>Batch frames (docs/protocol.md §7), written and read here independently of the library's codec.</summary>
public static class BatchFrames
{
    /// <summary>A batch frame as docs/protocol.md §7 defines it, written here independently of the library.</summary>
    public static byte[] Build(byte kind, IEnumerable<(ulong Id, string Tag, string Body)> records)
    {
        var bytes = new List<byte>(Encoding.ASCII.GetBytes("CURB03")) { kind };
        foreach (var (id, tag, body) in records)
        {
            var buffer = new byte[8];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(buffer, id);
            bytes.AddRange(buffer);
            bytes.Add((byte)Encoding.UTF8.GetByteCount(tag));
            bytes.AddRange(Encoding.UTF8.GetBytes(tag));
            var length = new byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(length, Encoding.UTF8.GetByteCount(body));
            bytes.AddRange(length);
            bytes.AddRange(Encoding.UTF8.GetBytes(body));
        }

        return [.. bytes];
    }

    /// <summary>
    /// A client's courier/5 batch (kind 0x05): a client identity once, then records whose meta is attempt 1,
    /// <paramref name="flags"/> (0x02: courier/7's large replies), no budget and no headers.
    /// </summary>
    public static byte[] BuildClient5(byte flags, IEnumerable<(ulong Id, string Tag, string Body)> records)
    {
        var bytes = new List<byte>(Encoding.ASCII.GetBytes("CURB03")) { 0x05 };
        bytes.AddRange(Enumerable.Range(1, 16).Select(i => (byte)i)); // the client identity: any but all zeros
        var buffer = new byte[8];
        foreach (var (id, tag, body) in records)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(buffer, id);
            bytes.AddRange(buffer);
            bytes.Add((byte)Encoding.UTF8.GetByteCount(tag));
            bytes.AddRange(Encoding.UTF8.GetBytes(tag));
            bytes.AddRange([0, 6, 1, flags, 0, 0, 0, 0]); // meta length 6: attempt 1, the flags, budget 0
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(buffer, Encoding.UTF8.GetByteCount(body));
            bytes.AddRange(buffer.AsSpan(0, 4).ToArray());
            bytes.AddRange(Encoding.UTF8.GetBytes(body));
        }

        return [.. bytes];
    }

    /// <summary>True for a batch frame of any kind.</summary>
    public static bool IsAny(byte[] frame) => frame.Length >= 7 && Encoding.ASCII.GetString(frame, 0, 6) == "CURB03";

    /// <summary>
    /// The records of a batch frame of any kind, as their meta (empty for kinds without one): 0x05 carries a client
    /// identity, it and 0x07 a meta per record (under 0x05 attempt, flags, budget, headers).
    /// </summary>
    public static List<byte[]> RecordMetas(byte[] frame)
    {
        var kind = frame[6];
        var hasMeta = kind is 0x05 or 0x07;
        var metas = new List<byte[]>();
        for (var at = kind == 0x05 ? 7 + 16 : 7; at < frame.Length;)
        {
            at += 9 + frame[at + 8];
            var meta = Array.Empty<byte>();
            if (hasMeta)
            {
                var length = System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(at));
                meta = frame.AsSpan(at + 2, length).ToArray();
                at += 2 + length;
            }

            at += 4 + System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(at));
            metas.Add(meta);
        }

        return metas;
    }

    public static bool Is(byte[] frame, byte kind) => frame.Length >= 7 && Encoding.ASCII.GetString(frame, 0, 6) == "CURB03" && frame[6] == kind;

    public static List<(ulong Id, string Tag, string Body)> Parse(byte[] frame)
    {
        var records = new List<(ulong, string, string)>();
        for (var at = 7; at < frame.Length;)
        {
            var id = System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(frame.AsSpan(at));
            var tagLength = frame[at + 8];
            var tag = Encoding.UTF8.GetString(frame, at + 9, tagLength);
            var bodyLength = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(at + 9 + tagLength));
            records.Add((id, tag, Encoding.UTF8.GetString(frame, at + 13 + tagLength, bodyLength)));
            at += 13 + tagLength + bodyLength;
        }

        return records;
    }
}
