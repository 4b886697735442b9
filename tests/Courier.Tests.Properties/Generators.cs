using System.Buffers.Binary;
using System.Text;
using Courier.Fuzz;
using CsCheck;

namespace Courier.Tests.Properties;

/// <summary>
/// Frames that look like Courier's, 7/MDP's or nothing at all: known headers with random tails, so generated input
/// gets past the first checks of each decoder as well as failing them.
/// </summary>
internal static class Generators
{
    private static readonly string[] Services = ["echo", "whoami", "fail", "mmi.service", "mmi.courier", "mmi.stats", "mmi.workers", "nope", ""];

    private static readonly byte[][] Prefixes =
    [
        "CURC02"u8.ToArray(), "CURW02"u8.ToArray(), "CURB03\u0001"u8.ToArray(), "CURB03\u0002"u8.ToArray(),
        "CURB03\u0003"u8.ToArray(), "CURB03\u0004"u8.ToArray(), "MDPC01"u8.ToArray(), "MDPW01"u8.ToArray(),
        "courier/4 capacity="u8.ToArray(), "courier/3 capacity="u8.ToArray(), "courier/4"u8.ToArray(),
    ];

    public static readonly Gen<byte[]> RandomBytes = Gen.Byte.Array[0, 48];

    public static readonly Gen<byte[]> ServiceFrame = Gen.OneOf(Services).Select(Encoding.UTF8.GetBytes);

    public static readonly Gen<byte[]> PrefixedFrame = Gen.Select(Gen.OneOf(Prefixes), RandomBytes, (p, tail) => (byte[])[.. p, .. tail]);

    public static readonly Gen<byte[]> CommandFrame = Gen.Byte[0, 6].Select(b => new[] { b });

    /// <summary>A batch frame of well-formed records, or records cut or lengths lying.</summary>
    public static readonly Gen<byte[]> BatchFrame = Gen.Select(
        Gen.Byte[1, 4],
        Gen.Select(Gen.ULong, Gen.OneOf(Services), RandomBytes, Gen.Int[-2, 2]).Array[0, 6],
        Gen.Int[0, 8],
        (kind, records, cut) =>
        {
            var frame = new List<byte>("CURB03"u8.ToArray()) { kind };
            foreach ((ulong id, string service, byte[] body, int lie) in records)
            {
                var head = new byte[8];
                BinaryPrimitives.WriteUInt64BigEndian(head, id);
                frame.AddRange(head);
                var tag = Encoding.UTF8.GetBytes(service);
                frame.Add((byte)tag.Length);
                frame.AddRange(tag);
                var length = new byte[4];
                BinaryPrimitives.WriteInt32BigEndian(length, body.Length + (lie == 2 ? 1000 : lie == -2 ? -5 : 0));
                frame.AddRange(length);
                frame.AddRange(body);
            }

            return frame.Take(Math.Max(7, frame.Count - cut)).ToArray();
        });

    public static readonly Gen<byte[]> Frame = Gen.Frequency(
        (3, RandomBytes), (3, Gen.Const(Array.Empty<byte>())), (3, ServiceFrame), (4, PrefixedFrame), (2, CommandFrame), (2, BatchFrame));

    public static readonly Gen<FuzzStep> Step = Gen.Frequency(
        (10, Gen.Select(Gen.Int[0, FuzzInput.Peers - 1], Frame.Array[1, 8], (peer, frames) => new FuzzStep(StepKind.Message, peer, frames))),
        (1, Gen.Int[0, FuzzInput.Peers - 1].Select(peer => new FuzzStep(StepKind.Tick, peer, []))),
        (1, Gen.Int[0, FuzzInput.Peers - 1].Select(peer => new FuzzStep(StepKind.Disconnect, peer, []))));

    public static readonly Gen<FuzzStep[]> Script = Step.Array[1, 16];
}
