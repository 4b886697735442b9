using System.Text;

namespace Courier.Protocol.Internal;

/// <summary>Status frames: three ASCII digits (<see cref="CourierStatus"/>), as 8/MMI answers and Courier replies carry them.</summary>
internal static class StatusFrames
{
    public static byte[] Of(int status) => status switch
    {
        CourierStatus.Ok => StatusOk,
        _ => Encoding.ASCII.GetBytes(status.ToString(System.Globalization.CultureInfo.InvariantCulture)),
    };

    private static readonly byte[] StatusOk = "200"u8.ToArray();

    /// <summary>Parses a three-digit ASCII status frame; -1 when it is not one.</summary>
    public static int Parse(ReadOnlySpan<byte> frame)
    {
        if (frame.Length != 3)
        {
            return -1;
        }

        var value = 0;
        foreach (var b in frame)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                return -1;
            }

            value = (value * 10) + (b - '0');
        }

        return value;
    }
}
