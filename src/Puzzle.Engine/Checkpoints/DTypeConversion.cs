using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Puzzle.Engine.Checkpoints;

/// <summary>
/// Converts safetensors element bytes (always little-endian) to float32 and back. Widening to float32 is exact for
/// every type; narrowing rounds to nearest, ties to even, as PyTorch does.
/// </summary>
internal static class DTypeConversion
{
    public static void ToFloat32(ReadOnlySpan<byte> source, TensorDType dtype, Span<float> destination)
    {
        switch (dtype)
        {
            case TensorDType.F32 when BitConverter.IsLittleEndian:
                MemoryMarshal.Cast<byte, float>(source).CopyTo(destination);
                break;
            case TensorDType.F32:
                for (var i = 0; i < destination.Length; i++)
                    destination[i] = BinaryPrimitives.ReadSingleLittleEndian(source[(4 * i)..]);
                break;
            case TensorDType.F16:
                for (var i = 0; i < destination.Length; i++)
                    destination[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(source[(2 * i)..]);
                break;
            default:
                // bfloat16 is the top half of a float32, so widening is a shift
                for (var i = 0; i < destination.Length; i++)
                    destination[i] = BitConverter.UInt32BitsToSingle(
                        (uint)BinaryPrimitives.ReadUInt16LittleEndian(source[(2 * i)..]) << 16);
                break;
        }
    }

    public static void FromFloat32(ReadOnlySpan<float> source, TensorDType dtype, Span<byte> destination)
    {
        switch (dtype)
        {
            case TensorDType.F32 when BitConverter.IsLittleEndian:
                MemoryMarshal.AsBytes(source).CopyTo(destination);
                break;
            case TensorDType.F32:
                for (var i = 0; i < source.Length; i++)
                    BinaryPrimitives.WriteSingleLittleEndian(destination[(4 * i)..], source[i]);
                break;
            case TensorDType.F16:
                for (var i = 0; i < source.Length; i++)
                    BinaryPrimitives.WriteHalfLittleEndian(destination[(2 * i)..], (Half)source[i]);
                break;
            default:
                for (var i = 0; i < source.Length; i++)
                    BinaryPrimitives.WriteUInt16LittleEndian(destination[(2 * i)..], ToBFloat16(source[i]));
                break;
        }
    }

    public static ushort ToBFloat16(float value)
    {
        var bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40); // keep it a (quiet) NaN
        bits += 0x7FFFu + ((bits >> 16) & 1u);
        return (ushort)(bits >> 16);
    }
}
