/* dlo_lib.c - a library found only through its loader's RUNPATH ($ORIGIN/dlo): dlo_prog dlopens
 * it by bare name, by path and by a $ORIGIN name. */
int dlo_answer(void)
{
    return 42;
}
