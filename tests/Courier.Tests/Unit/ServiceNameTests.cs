using System.Text;
using Courier.Protocol.Internal;

namespace Courier.Tests.Unit;

/// <summary>Service names as peers send them (docs/protocol.md §1): printable UTF-8, 1–255 bytes.</summary>
public sealed class ServiceNameTests
{
    [Theory]
    [InlineData("echo")]
    [InlineData("mmi.service")]
    [InlineData("a b")]
    [InlineData("échange")]
    [InlineData("日本語")]
    public void Printable_names_are_taken_as_they_are(string name) => Assert.Equal(name, Mdp.DecodeServiceName(Encoding.UTF8.GetBytes(name)));

    [Theory]
    [InlineData("tab\t")]
    [InlineData("del\u007F")]
    [InlineData("x\u009B31m")] // C1: the 8-bit CSI of terminal escapes
    [InlineData("line\u0085break")] // C1: next line
    [InlineData("\u202Eevil")] // a right-to-left override: one name printed as another
    [InlineData("zero\u200Bwidth")]
    [InlineData("one\u2028line")] // a line separator: the log line breaks
    public void Names_with_control_or_format_characters_are_not_names(string name) => Assert.Null(Mdp.DecodeServiceName(Encoding.UTF8.GetBytes(name)));

    [Theory]
    [InlineData(new byte[] { 0x65, 0xFF, 0x66 })]
    [InlineData(new byte[] { 0xC0, 0xAF })] // overlong
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })] // a surrogate
    [InlineData(new byte[] { 0x65, 0xE2, 0x82 })] // cut short
    public void Invalid_utf8_is_not_a_name_and_costs_no_exception(byte[] frame)
    {
        // A batch of such names must cost what a batch of unknown ones does: an exception each cost far more.
        var thread = Environment.CurrentManagedThreadId;
        var thrown = 0;
        void Count(object? sender, System.Runtime.ExceptionServices.FirstChanceExceptionEventArgs e)
        {
            if (Environment.CurrentManagedThreadId == thread)
            {
                thrown++;
            }
        }

        AppDomain.CurrentDomain.FirstChanceException += Count;
        try
        {
            Assert.Null(Mdp.DecodeServiceName(frame));
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= Count;
        }

        Assert.Equal(0, thrown);
    }
}
