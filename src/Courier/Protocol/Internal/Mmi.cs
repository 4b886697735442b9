namespace Courier.Protocol.Internal;

/// <summary>8/MMI answer codes.</summary>
internal static class Mmi
{
    public static readonly byte[] Found = "200"u8.ToArray();
    public static readonly byte[] NotFound = "404"u8.ToArray();
    public static readonly byte[] NotImplemented = "501"u8.ToArray();
}
