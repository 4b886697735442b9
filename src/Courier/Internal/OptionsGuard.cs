namespace Courier.Internal;

/// <summary>The one way options records report an invalid setting: naming the record, the setting and the rule.</summary>
internal static class OptionsGuard
{
    public static void Require(bool ok, string record, string setting, string rule)
    {
        if (!ok)
        {
            throw new ArgumentException($"{record}.{setting} {rule}.", setting);
        }
    }
}
