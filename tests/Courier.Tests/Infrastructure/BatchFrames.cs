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
